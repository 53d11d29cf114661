import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { clearSessionCache } from '@palette/gpu-kernels';
import { compile } from '../../src/graph/compile';
import { Graph } from '../../src/graph/graph';
import { tensorData } from '../../src/graph/tensor-data';
import { FlyLoraWiring, rankSelectionMask } from '../../src/model/flylora-wiring';
import { createFlyLora, flyLoraArtifact, flyLoraFromArtifact, mergeFlyLoraAdapters, sparseRandomA, trainFlyLora, updateFlyLoraBias, type FlyLoraAdapter } from '../../src/routing/flylora';
import { decodeRouterArtifact, encodeRouterArtifact } from '../../src/routing/router-artifact';

import { randomCheckpoint, randomModelConfig } from '../../src/testing/random-model';
import { Rng } from '../../src/util/rng';
import { assertClose } from '../model/parity-helpers';
import { gradientCheck, randomValues } from './grad-check';

after(() => clearSessionCache());

const SITE = { path: 'm', layer: 0, module: 'q_proj' as const, inFeatures: 8, outFeatures: 5 };

/** Plain-TS FlyLoRA contribution for one token: s · B (y ⊙ 1_I), y = A x, I = top-k of (y + d) per block. */
function flyLoraReference(x: ArrayLike<number>, A: ArrayLike<number>, B: ArrayLike<number>, d: ArrayLike<number>, r: number, inF: number, outF: number, k: number, scaling: number, blocks = 1): number[] {
  const y = Array.from({ length: r }, (_, i) => {
    let s = 0;
    for (let c = 0; c < inF; c++) s += A[i * inF + c]! * x[c]!;
    return s;
  });
  const keep = new Array<boolean>(r).fill(false);
  const per = r / blocks;
  for (let b = 0; b < blocks; b++) {
    const idx = Array.from({ length: per }, (_, i) => b * per + i).sort((i, j) => y[j]! + d[j]! - (y[i]! + d[i]!));
    for (const i of idx.slice(0, k)) keep[i] = true;
  }
  return Array.from({ length: outF }, (_, o) => {
    let s = 0;
    for (let i = 0; i < r; i++) if (keep[i]) s += B[o * r + i]! * y[i]!;
    return scaling * s;
  });
}

describe('FlyLoRA', () => {
  it('sparse random A: p = n·k/r non-zeros per row, values ~ N(0, 1/r²)', () => {
    const A = sparseRandomA(new Rng(1), 32, 256, 8); // p = 256 / (32/8) = 64
    let sumSq = 0;
    for (let i = 0; i < 32; i++) {
      const row = A.data.subarray(i * 256, (i + 1) * 256);
      assert.equal(row.filter((v) => v !== 0).length, 64, `row ${i}`);
      for (const v of row) sumSq += v * v;
    }
    const std = Math.sqrt(sumSq / (32 * 64));
    assert.ok(Math.abs(std - 1 / 32) < 0.1 / 32, `std ${std} vs 1/r = ${1 / 32}`);
  });

  it('rank selection: top-k per block on signed values', async () => {
    const g = new Graph();
    const s = g.input('s', 'float32', [2, 6]);
    g.output('one', rankSelectionMask(g, s, 2));
    g.output('blocked', rankSelectionMask(g, s, 1, 2));
    const compiled = await compile(g);
    const values = [0.5, -3, 2, 1, -0.1, 0.4, /**/ -1, -2, -3, -0.5, -4, -0.6];
    const out = await compiled.run({ s: tensorData('float32', [2, 6], values) });
    await compiled.dispose();
    assert.deepEqual([...(out.one!.data as Float32Array)], [0, 0, 1, 1, 0, 0, /**/ 0, 0, 0, 1, 0, 1]);
    assert.deepEqual([...(out.blocked!.data as Float32Array)], [0, 0, 1, 1, 0, 0, /**/ 1, 0, 0, 1, 0, 0]);
  });

  it('one linear: forward equals the plain-TS reference; dLoss/dB matches finite differences (f64)', async () => {
    const { inFeatures: inF, outFeatures: outF } = SITE;
    const r = 6, k = 2, scaling = 1.5;
    const rng = new Rng(5);
    const A = Array.from(sparseRandomA(rng, r, inF, k).data);
    const B = randomValues(rng, outF * r, 0.5);
    const d = randomValues(rng, r, 0.05);
    const x = randomValues(rng, 2 * 3 * inF, 1);
    const result = await gradientCheck({
      build: (g) => {
        const xv = g.input('x', 'float64', [2, 3, inF]);
        const wiring = new FlyLoraWiring(new Map([['m', { A: g.constant(tensorData('float64', [r, inF], A)), B: g.input('B', 'float64', [outF, r]), bias: g.constant(tensorData('float64', [r], d)) }]]), { topK: k, scaling });
        const delta = wiring.adaptLinear(g, SITE, xv, g.fill([2, 3, outF], 0, 'float64'));
        return { outputs: [delta], wrt: ['B'] };
      },
      feeds: { x: tensorData('float64', [2, 3, inF], x), B: tensorData('float64', [outF, r], B) },
      seed: 6,
    });
    for (let t = 0; t < 6; t++) {
      const expected = flyLoraReference(x.slice(t * inF, (t + 1) * inF), A, B, d, r, inF, outF, k, scaling);
      assertClose(result.forward[0]!.subarray(t * outF, (t + 1) * outF), expected, 1e-12, `token ${t}`);
    }
    assert.ok(result.checked === outF * r && result.maxError < 1e-7, `B gradient error ${result.maxError}`);
  });

  it('load balance: d_i += u · sign(mean(c) − c_i)', () => {
    const d = Float32Array.from([0, 0.5, -0.25, 0.1]);
    updateFlyLoraBias(d, [4, 10, 2, 4], 0.001); // mean 5
    assertClose(d, [0.001, 0.499, -0.249, 0.101], 1e-7, 'bias');
    updateFlyLoraBias(d, [3, 3, 3, 3]); // balanced: no change
    assertClose(d, [0.001, 0.499, -0.249, 0.101], 1e-7, 'balanced');
    assert.throws(() => updateFlyLoraBias(d, [1, 2]), /2 counts for 4 ranks/);
  });

  it('merge: shared A averages B and d; different A gives exactly the mean of the task outputs', async () => {
    const config = randomModelConfig();
    const spec = { rank: 8, topK: 2, alpha: 16, targetModules: ['q_proj' as const] };
    const withB = (a: FlyLoraAdapter, seed: number): FlyLoraAdapter => {
      const rng = new Rng(seed);
      for (const m of a.modules.values()) {
        m.B.data.set(randomValues(rng, m.B.data.length, 0.5));
        m.d.set(randomValues(rng, m.d.length, 0.1));
      }
      return a;
    };
    const shared = [withB(createFlyLora(config, { ...spec, seed: 1 }), 10), withB(createFlyLora(config, { ...spec, seed: 1 }), 11)];
    const avg = mergeFlyLoraAdapters(shared);
    const path = 'model.layers.0.self_attn.q_proj';
    assert.equal(avg.rank, 8);
    assertClose(avg.modules.get(path)!.B.data, Array.from(shared[0]!.modules.get(path)!.B.data, (v, i) => (v + shared[1]!.modules.get(path)!.B.data[i]!) / 2), 1e-7, 'averaged B');
    assertClose(avg.modules.get(path)!.d, Array.from(shared[0]!.modules.get(path)!.d, (v, i) => (v + shared[1]!.modules.get(path)!.d[i]!) / 2), 1e-7, 'averaged d');

    const tasks = [1, 2, 3].map((seed) => withB(createFlyLora(config, { ...spec, seed }), 20 + seed));
    const merged = mergeFlyLoraAdapters(tasks);
    assert.deepEqual([merged.rank, merged.blocks, merged.topK, merged.alpha / merged.rank], [24, 3, 2, 2]);
    const x = randomValues(new Rng(4), 16, 1);
    const out = (a: FlyLoraAdapter): number[] => {
      const m = a.modules.get(path)!;
      return flyLoraReference(x, m.A.data, m.B.data, m.d, a.rank, 16, 16, a.topK, a.alpha / a.rank, a.blocks);
    };
    const mean = out(tasks[0]!).map((_, o) => tasks.reduce((s, t) => s + out(t)[o]!, 0) / 3);
    assertClose(out(merged), mean, 1e-6, 'merged = mean of task outputs');
    // The graph wiring agrees with the reference on the merged (blocked) adapter.
    const g = new Graph();
    const m = merged.modules.get(path)!;
    const wiring = new FlyLoraWiring(new Map([[path, { A: g.constant(tensorData('float32', [24, 16], m.A.data)), B: g.constant(tensorData('float32', [16, 24], m.B.data)), bias: g.constant(tensorData('float32', [24], m.d)) }]]), { topK: 2, scaling: 2, blocks: 3 });
    const xv = g.input('x', 'float32', [1, 1, 16]);
    g.output('y', wiring.adaptLinear(g, { ...SITE, path, inFeatures: 16, outFeatures: 16 }, xv, g.fill([1, 1, 16], 0, 'float32')));
    const compiled = await compile(g);
    const y = (await compiled.run({ x: tensorData('float32', [1, 1, 16], x) })).y!.data as Float32Array;
    await compiled.dispose();
    assertClose(y, mean, 1e-5, 'graph merged');
    assert.throws(() => mergeFlyLoraAdapters([tasks[0]!, createFlyLora(config, { ...spec, rank: 4, seed: 9 })]), /rank 4/);
  });

  it('training: loss falls, only B changes (A frozen), d moves toward balance; artifact round-trips', async () => {
    const config = randomModelConfig();
    const weights = randomCheckpoint(config, 3);
    const adapter = createFlyLora(config, { rank: 8, topK: 2, alpha: 16, seed: 2 });
    const A0 = new Map([...adapter.modules].map(([p, m]) => [p, m.A.data.slice()]));
    const rng = new Rng(8);
    // A deterministic mapping to learn: each row counts up from a random start.
    const train = Array.from({ length: 32 }, () => {
      const start = 3 + rng.int(20);
      const ids = [1, ...Array.from({ length: 7 }, (_, t) => start + t)];
      return { ids, lossMask: ids.map((_, t) => (t > 0 ? 1 : 0)) };
    });
    const result = await trainFlyLora({ config, weights, adapter, train, batchSize: 8, steps: 30, lr: 0.02, seed: 3 });
    const first = result.losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = result.losses.slice(-3).reduce((a, b) => a + b) / 3;
    assert.ok(last < first * 0.8, `loss ${first} → ${last}`);
    for (const [p, m] of adapter.modules) {
      assert.deepEqual(m.A.data, A0.get(p), `${p}: A is frozen`);
      assert.ok(m.B.data.some((v) => v !== 0), `${p}: B trained`);
      assert.ok(m.d.some((v) => v !== 0), `${p}: d updated`);
    }
    const artifact = flyLoraArtifact(adapter, { baseModel: 'tiny@1', sources: ['count-up@1'], metrics: { finalLoss: last } });
    const encoded = encodeRouterArtifact(artifact);
    const decoded = decodeRouterArtifact(encoded);
    const again = flyLoraFromArtifact(decoded);
    assert.deepEqual(again.modules.get('model.layers.1.mlp.down_proj')!.B.data, adapter.modules.get('model.layers.1.mlp.down_proj')!.B.data);
  });
});
