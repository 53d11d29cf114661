import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseModelConfig } from '../formats/hf-config';
import { linearShape } from '../formats/model-modules';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import type { HostTensor } from '../tensor/host-tensor';
import { Rng } from '../util/rng';
import { sketchSimilarity, weightSketch } from './weight-sketch';

const base = parseModelConfig({ model_type: 'llama', vocab_size: 32, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 });
const PATHS = ['model.layers.0.self_attn.q_proj', 'model.layers.0.self_attn.v_proj', 'model.layers.1.self_attn.q_proj', 'model.layers.1.mlp.down_proj'];

const randn = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.normal());

function randomAdapter(seed: number, r = 4, scaling = 2): LoraWeights {
  const rng = new Rng(seed);
  const modules = new Map<string, LoraModule>();
  for (const path of PATHS) {
    const [out, inDim] = linearShape(base, path);
    modules.set(path, { path, A: { shape: [r, inDim], data: randn(rng, r * inDim) }, B: { shape: [out, r], data: randn(rng, out * r) }, scaling });
  }
  return { modules };
}

function matmul(a: HostTensor, b: HostTensor): HostTensor {
  const [n, k] = a.shape;
  const m = b.shape[1];
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a.data[i * k + p] * b.data[p * m + j];
    out[i * m + j] = s;
  }
  return { shape: [n, m], data: out };
}

/** Inverse by Gauss-Jordan with partial pivoting (small matrices only). */
function inverse(mat: HostTensor): HostTensor {
  const n = mat.shape[0];
  const a = Array.from({ length: n }, (_, i) => [...Array.from(mat.data.subarray(i * n, i * n + n)), ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(a[i][c]) > Math.abs(a[p][c])) p = i;
    [a[c], a[p]] = [a[p], a[c]];
    const d = a[c][c];
    for (let j = 0; j < 2 * n; j++) a[c][j] /= d;
    for (let i = 0; i < n; i++) if (i !== c) {
      const f = a[i][c];
      for (let j = 0; j < 2 * n; j++) a[i][j] -= f * a[c][j];
    }
  }
  return { shape: [n, n], data: Float32Array.from(a.flatMap((row) => row.slice(n))) };
}

function reparameterise(weights: LoraWeights, seed: number): LoraWeights {
  const rng = new Rng(seed);
  const modules = new Map<string, LoraModule>();
  for (const [path, m] of weights.modules) {
    const r = m.A.shape[0];
    const M: HostTensor = { shape: [r, r], data: randn(rng, r * r) };
    for (let i = 0; i < r; i++) M.data[i * r + i] += 3; // keep it well conditioned
    modules.set(path, { ...m, A: matmul(M, m.A), B: matmul(m.B, inverse(M)) });
  }
  return { modules };
}

describe('weightSketch', () => {
  it('is a deterministic unit vector of the requested size', () => {
    const s = weightSketch(randomAdapter(1), base, 64);
    assert.equal(s.length, 64);
    assert.ok(Math.abs(sketchSimilarity(s, s) - 1) < 1e-5);
    assert.deepEqual(weightSketch(randomAdapter(1), base, 64), s);
  });
  it('depends only on B·A: a re-parameterised adapter has the same sketch', () => {
    const a = randomAdapter(2);
    const cos = sketchSimilarity(weightSketch(a, base), weightSketch(reparameterise(a, 99), base));
    assert.ok(cos > 0.9999, `cosine ${cos}`);
  });
  it('is unchanged by padding the rank with zeros and by a global rescale', () => {
    const a = randomAdapter(3, 2);
    const padded = new Map<string, LoraModule>();
    const rescaled = new Map<string, LoraModule>();
    for (const [path, m] of a.modules) {
      const [r, inDim] = m.A.shape;
      const out = m.B.shape[0];
      const A = new Float32Array(2 * r * inDim);
      A.set(m.A.data);
      const B = new Float32Array(out * 2 * r);
      for (let o = 0; o < out; o++) B.set(m.B.data.subarray(o * r, o * r + r), o * 2 * r);
      padded.set(path, { ...m, A: { shape: [2 * r, inDim], data: A }, B: { shape: [out, 2 * r], data: B } });
      rescaled.set(path, { ...m, scaling: m.scaling * 5 });
    }
    const s = weightSketch(a, base);
    assert.ok(sketchSimilarity(s, weightSketch({ modules: padded }, base)) > 0.99999);
    assert.ok(sketchSimilarity(s, weightSketch({ modules: rescaled }, base)) > 0.99999);
  });
  it('separates different adapters and keeps similar ones close', () => {
    const a = randomAdapter(4);
    const b = randomAdapter(5);
    const sa = weightSketch(a, base);
    const unrelated = sketchSimilarity(sa, weightSketch(b, base));
    assert.ok(Math.abs(unrelated) < 0.5, `unrelated cosine ${unrelated}`);
    // a + small noise in B stays close to a.
    const rng = new Rng(6);
    const noisy = new Map<string, LoraModule>();
    for (const [path, m] of a.modules) noisy.set(path, { ...m, B: { shape: m.B.shape, data: m.B.data.map((v) => v + 0.05 * rng.normal()) } });
    const near = sketchSimilarity(sa, weightSketch({ modules: noisy }, base));
    assert.ok(near > 0.95 && near > unrelated, `near cosine ${near}`);
  });
  it('puts the same change in different layers on different coordinates', () => {
    const a = randomAdapter(7);
    const only0 = new Map([...a.modules].filter(([p]) => p === 'model.layers.0.self_attn.q_proj'));
    const m = only0.get('model.layers.0.self_attn.q_proj')!;
    const moved = new Map([['model.layers.1.self_attn.q_proj', { ...m, path: 'model.layers.1.self_attn.q_proj' }]]);
    const cos = sketchSimilarity(weightSketch({ modules: only0 }, base), weightSketch({ modules: moved }, base));
    assert.ok(Math.abs(cos) < 0.5, `cosine ${cos}`);
  });
  it('rejects shapes that do not form B·A and layers beyond the base', () => {
    const a = randomAdapter(8);
    const m = a.modules.get(PATHS[0])!;
    assert.throws(() => weightSketch({ modules: new Map([[PATHS[0], { ...m, B: { shape: [16, 3], data: new Float32Array(48) } }]]) }, base), { code: 'SHAPE_MISMATCH' });
    const far = 'model.layers.9.self_attn.q_proj';
    assert.throws(() => weightSketch({ modules: new Map([[far, { ...m, path: far }]]) }, base), { code: 'ADAPTER_INCOMPATIBLE' });
  });
});
