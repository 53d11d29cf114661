import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { hostTensor } from '../tensor/host-tensor';
import { compile } from '../graph/compile';
import { gradients } from '../graph/autodiff';
import { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import { inverse, matmul } from '../linalg';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { randomLora, randomModelConfig } from '../testing/random-model';
import { Rng } from '../util/rng';
import { encoderLayoutFor, packAdapterBatch } from './adapter-batch';
import {
  buildWeightEncoder,
  declareAdapterBatchInputs,
  declareWeightEncoderParams,
  initWeightEncoderParams,
  WeightEncoder,
  weightEncoderConfig,
  weightEncoderParamShapes,
} from './weight-encoder';

const base = randomModelConfig(); // 2 layers, hidden 16, intermediate 40, GQA q 16 / kv 8
const layout = encoderLayoutFor(base);
const config = weightEncoderConfig(layout, { probes: 2, width: 16, heads: 2, ffnWidth: 32, outDim: 8 });

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
}

/** A' = M·A, B' = B·M⁻¹ for a random well-conditioned M per module. */
function reparameterise(weights: LoraWeights, seed: number): LoraWeights {
  const rng = new Rng(seed);
  const modules = new Map<string, LoraModule>();
  for (const [path, m] of weights.modules) {
    const [r, inDim] = m.A.shape as [number, number];
    const out = m.B.shape[0]!;
    const M = Float64Array.from({ length: r * r }, (_, i) => (i % (r + 1) === 0 ? 1 : 0) + 0.4 * rng.normal());
    const A = Float32Array.from(matmul(M, m.A.data, r, r, inDim));
    const B = Float32Array.from(matmul(m.B.data, inverse(M, r), out, r, r));
    modules.set(path, { ...m, A: hostTensor([r, inDim], A), B: hostTensor([out, r], B) });
  }
  return { modules };
}

/** Zero rows appended to A and zero columns to B: same B·A, rank r + extra. */
function padRank(weights: LoraWeights, extra: number): LoraWeights {
  const modules = new Map<string, LoraModule>();
  for (const [path, m] of weights.modules) {
    const [r, inDim] = m.A.shape as [number, number];
    const out = m.B.shape[0]!;
    const R = r + extra;
    const A = new Float32Array(R * inDim);
    A.set(m.A.data);
    const B = new Float32Array(out * R);
    for (let o = 0; o < out; o++) for (let j = 0; j < r; j++) B[o * R + j] = m.B.data[o * r + j]!;
    // Scaling alpha/r would change with r; the module's own scaling is what ΔW uses, so keep it.
    modules.set(path, { ...m, A: hostTensor([R, inDim], A), B: hostTensor([out, R], B) });
  }
  return { modules };
}

describe('weight encoder', () => {
  let encoder: WeightEncoder;
  after(() => encoder?.dispose());

  it('has the documented parameter set', () => {
    const shapes = weightEncoderParamShapes(config);
    assert.deepEqual(shapes.get('enc.probe.q_proj'), [2, 2, 16]);
    assert.deepEqual(shapes.get('enc.proj.down_proj.weight'), [16, 2 * 16]);
    assert.deepEqual(shapes.get('enc.head'), [8, 16]);
  });

  it('is invariant to A → M·A, B → B·M⁻¹, with random untrained parameters', async () => {
    encoder = await WeightEncoder.create(config, initWeightEncoderParams(config, 7));
    for (const seed of [1, 2]) {
      const adapter = randomLora(base, { r: 4, alpha: 8, seed });
      const [z, zm] = await encoder.encode([adapter, reparameterise(adapter, seed + 100)]);
      assert.ok(maxDiff(z!, zm!) < 1e-4, `max |z − z'| = ${maxDiff(z!, zm!)}`);
      const norm = Math.sqrt(z!.reduce((s, v) => s + v * v, 0));
      assert.ok(Math.abs(norm - 1) < 1e-5, `|z| = ${norm}`);
    }
  });

  it('is invariant to zero rank padding and to the other adapters in the batch', async () => {
    const adapter = randomLora(base, { r: 3, seed: 4 });
    const other = randomLora(base, { r: 8, seed: 5 });
    const [alone] = await encoder.encode([adapter]);
    const [padded, otherZ] = await encoder.encode([padRank(adapter, 5), other]);
    assert.ok(maxDiff(alone!, padded!) < 1e-5, `padding moved z by ${maxDiff(alone!, padded!)}`);
    // Different adapters do get different embeddings (the test above could not pass by collapse).
    assert.ok(maxDiff(alone!, otherZ!) > 1e-2);
  });

  it('is invariant to a global rescaling of ΔW and handles adapters with missing modules', async () => {
    const partial = randomLora(base, { r: 2, seed: 9, targetModules: ['q_proj', 'v_proj'], layers: [1] });
    const scaled: LoraWeights = { modules: new Map([...partial.modules].map(([p, m]) => [p, { ...m, scaling: m.scaling * 5 }])) };
    const full = randomLora(base, { r: 2, seed: 9 });
    const [z, zScaled, zFull] = await encoder.encode([partial, scaled, full]);
    assert.ok(maxDiff(z!, zScaled!) < 1e-5);
    assert.ok(z!.every(Number.isFinite));
    assert.ok(maxDiff(z!, zFull!) > 1e-2, 'masking must not make a partial adapter look like the full one');
  });

  it('refuses adapters that do not fit the layout, naming the module', () => {
    const wrong = randomLora(randomModelConfig({ hiddenSize: 24 }), { r: 2, seed: 1 });
    assert.throws(() => packAdapterBatch(layout, [wrong]), (e: Error & { code?: string }) => e.code === 'ADAPTER_INCOMPATIBLE' && /q_proj has A/.test(e.message));
    assert.throws(() => packAdapterBatch(layout, [{ modules: new Map() }]), /adapts no decoder layer/);
  });

  it('has autodiff gradients that match finite differences (float64)', async () => {
    const small = weightEncoderConfig(encoderLayoutFor(base, ['q_proj', 'down_proj']), { probes: 2, width: 8, heads: 2, ffnWidth: 8, outDim: 4 });
    const g = new Graph();
    const params = declareWeightEncoderParams(g, small, 'float64');
    const z = buildWeightEncoder(g, small, params, declareAdapterBatchInputs(g, small, 'float64', 2));
    const cot = g.input('cot', 'float64', [2, 4]);
    const loss = g.reduceSum(g.mul(z, cot), [0, 1]);
    g.output('loss', loss);
    const names = [...params.keys()];
    gradients(g, loss, names.map((n) => params.get(n)!)).forEach((d, i) => g.output(`grad:${names[i]}`, d));

    const rng = new Rng(3);
    const values = new Map<string, Float64Array>();
    for (const [name, p] of initWeightEncoderParams(small, 11)) values.set(name, Float64Array.from(p, (v) => v + 0.05 * rng.normal()));
    const adapters = [
      randomLora(base, { r: 2, seed: 21, targetModules: ['q_proj', 'down_proj'] }),
      randomLora(base, { r: 3, seed: 22, targetModules: ['q_proj'], layers: [0] }),
    ];
    const adapterFeeds = packAdapterBatch(small.layout, adapters, { dtype: 'float64' });
    const cotFeed = tensorData('float64', [2, 4], Float64Array.from({ length: 8 }, () => rng.normal()));
    const shapes = weightEncoderParamShapes(small);
    const feeds = () => {
      const f: Record<string, ReturnType<typeof tensorData>> = { ...adapterFeeds, cot: cotFeed };
      for (const [name, v] of values) f[name] = tensorData('float64', shapes.get(name)!, v);
      return f;
    };
    const full = await compile(g, { graphOptimization: 'basic' });
    const lossOnly = await compile(g, { outputs: ['loss'], graphOptimization: 'basic' });
    const analytic = await full.run(feeds());
    const h = 1e-6;
    let checked = 0;
    for (const name of names) {
      const v = values.get(name)!;
      const grad = analytic[`grad:${name}`]!.data as Float64Array;
      for (const i of [0, Math.floor(v.length / 2), v.length - 1]) {
        const x = v[i]!;
        v[i] = x + h;
        const up = (await lossOnly.run(feeds())).loss!.data[0] as number;
        v[i] = x - h;
        const down = (await lossOnly.run(feeds())).loss!.data[0] as number;
        v[i] = x;
        const numeric = (up - down) / (2 * h);
        assert.ok(Math.abs(grad[i]! - numeric) <= 1e-6 + 1e-4 * Math.abs(numeric), `${name}[${i}]: autodiff ${grad[i]}, finite difference ${numeric}`);
        checked++;
      }
    }
    assert.equal(checked, names.length * 3);
    await full.dispose();
    await lossOnly.dispose();
  });
});
