import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeftCoreError } from '../errors';
import { matmul, maxAbsDiff } from '../linalg/dense';
import { svd } from '../linalg/svd';
import { hostTensor } from '../tensor/host-tensor';
import { Rng } from '../util/rng';
import type { LoraModule, LoraWeights } from './adapter';
import { combineAdapters, dareDrop, magnitudePrune, tiesMerge } from './combine';
import { deltaWeightF64 } from './delta';

const Q = 'model.layers.0.self_attn.q_proj';
const V = 'model.layers.0.self_attn.v_proj';

function randomModule(rng: Rng, path: string, out: number, inF: number, r: number, scaling: number): LoraModule {
  const f = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  return { path, A: hostTensor([r, inF], f(r * inF)), B: hostTensor([out, r], f(out * r)), scaling };
}

function adapter(...modules: LoraModule[]): LoraWeights {
  return { modules: new Map(modules.map((m) => [m.path, m])) };
}

function deltaOf(w: LoraWeights, path: string): Float64Array {
  return deltaWeightF64(w.modules.get(path)!);
}

const isCode = (code: string) => (e: unknown) => e instanceof PeftCoreError && e.code === code;

const rng = new Rng(42);
const a1 = adapter(randomModule(rng, Q, 8, 6, 2, 2), randomModule(rng, V, 4, 6, 2, 0.5));
const a2 = adapter(randomModule(rng, Q, 8, 6, 3, 1.5));
const a3 = adapter(randomModule(rng, Q, 8, 6, 2, 4), randomModule(rng, V, 4, 6, 2, 1));

test('cat: ΔW = Σ w_i s_i B_i A_i exactly, rank Σ r_i, scaling 1; modules missing in some adapters still combine', () => {
  const w = [0.7, -0.4, 1.3];
  const out = combineAdapters([{ weights: a1, weight: w[0] }, { weights: a2, weight: w[1] }, { weights: a3, weight: w[2] }], 'cat');
  const q = out.modules.get(Q)!;
  assert.equal(q.scaling, 1);
  assert.deepEqual(q.A.shape, [7, 6]);
  const expected = deltaOf(a1, Q).map((x, i) => w[0] * x + w[1] * deltaOf(a2, Q)[i] + w[2] * deltaOf(a3, Q)[i]);
  assert.ok(maxAbsDiff(deltaOf(out, Q), expected) < 1e-4);
  // v_proj exists in a1 and a3 only.
  const v = out.modules.get(V)!;
  assert.deepEqual(v.A.shape, [4, 6]);
  const expectedV = deltaOf(a1, V).map((x, i) => w[0] * x + w[2] * deltaOf(a3, V)[i]);
  assert.ok(maxAbsDiff(deltaOf(out, V), expectedV) < 1e-5);
});

test("svd: at full rank equals cat's ΔW; truncated it is the best rank-r approximation", () => {
  const inputs = [{ weights: a1, weight: 0.5 }, { weights: a2, weight: 2 }, { weights: a3, weight: -1 }];
  const cat = combineAdapters(inputs, 'cat');
  const full = combineAdapters(inputs, 'svd', { svdRank: 7 });
  assert.ok(maxAbsDiff(deltaOf(full, Q), deltaOf(cat, Q)) < 1e-4);
  // Rank larger than min(out,in)=6 is clamped.
  assert.deepEqual(full.modules.get(Q)!.A.shape, [6, 6]);
  const r2 = combineAdapters(inputs, 'svd', { svdRank: 2 });
  const dense = deltaOf(cat, Q);
  const exact = svd(dense, 8, 6);
  let err2 = 0;
  deltaOf(r2, Q).forEach((x, i) => (err2 += (x - dense[i]) ** 2));
  const tail2 = exact.S.slice(2).reduce((s, x) => s + x * x, 0);
  assert.ok(Math.abs(Math.sqrt(err2) - Math.sqrt(tail2)) < 1e-4 * exact.S[0]);
  // Default rank: the largest input rank of the module (3 for q_proj, 2 for v_proj).
  const def = combineAdapters(inputs, 'svd');
  assert.deepEqual(def.modules.get(Q)!.A.shape, [3, 6]);
  assert.deepEqual(def.modules.get(V)!.A.shape, [2, 6]);
});

test("linear: PEFT's formula A = Σ√(w s) A_i, B = Σ√(w s) B_i, including its cross terms", () => {
  const w = [0.6, 0.3];
  const out = combineAdapters([{ weights: a1, weight: w[0] }, { weights: a3, weight: w[1] }], 'linear');
  const m1 = a1.modules.get(Q)!;
  const m3 = a3.modules.get(Q)!;
  const c1 = Math.sqrt(w[0] * m1.scaling);
  const c3 = Math.sqrt(w[1] * m3.scaling);
  const A = m1.A.data.map((x, i) => c1 * x + c3 * m3.A.data[i]);
  const B = m1.B.data.map((x, i) => c1 * x + c3 * m3.B.data[i]);
  const q = out.modules.get(Q)!;
  assert.ok(maxAbsDiff(q.A.data, A) < 1e-6);
  assert.ok(maxAbsDiff(q.B.data, B) < 1e-6);
  // Its ΔW = Σ w_i s_i B_i A_i + cross terms c1 c3 (B1 A3 + B3 A1).
  const cross = matmul(m1.B.data, m3.A.data, 8, 2, 6).map((x, i) => c1 * c3 * (x + matmul(m3.B.data, m1.A.data, 8, 2, 6)[i]));
  const sum = deltaOf(a1, Q).map((x, i) => w[0] * x + w[1] * deltaOf(a3, Q)[i] + cross[i]);
  assert.ok(maxAbsDiff(deltaOf(out, Q), sum) < 1e-4);
  // A negative weight flips the sign of its B·A term (sign on A only).
  const neg = combineAdapters([{ weights: a1, weight: -1 }], 'linear');
  assert.ok(maxAbsDiff(deltaOf(neg, Q), deltaOf(a1, Q).map((x) => -x)) < 1e-5);
  assert.throws(() => combineAdapters([{ weights: a1, weight: 1 }, { weights: a2, weight: 1 }], 'linear'), isCode('ADAPTER_INCOMPATIBLE'));
});

test('magnitudePrune keeps exactly floor(density·n) largest-magnitude entries', () => {
  const t = Float32Array.from([0.1, -5, 3, -0.2, 4, 0, 2, -1, 0.5, 6]);
  const p = magnitudePrune(t, 0.3);
  assert.deepEqual(Array.from(p), [0, -5, 0, 0, 0, 0, 0, 0, 0, 6].map((x, i) => (i === 4 ? 4 : x)));
  const big = Float32Array.from({ length: 1000 }, () => rng.normal());
  assert.equal(magnitudePrune(big, 0.37).filter((x) => x !== 0).length, 370);
});

test('tiesMerge: sign election (total vs frequency) and disjoint mean', () => {
  const x1 = Float32Array.from([3, -1, 0, 2]);
  const x2 = Float32Array.from([-1, -1, 5, 2]);
  const x3 = Float32Array.from([-1, 4, 0, -2]);
  const w = [1, 1, 1];
  // entry 0: total 3-1-1=1 → +, only x1 agrees → 3/1. frequency: +1-1-1=-1 → −, x2,x3 agree → (-1-1)/2.
  // entry 1: total 2 → +, x3 → 4. frequency -1 → −, x1,x2 → -1.
  // entry 2: zeros never vote for a side: total 5 → +, x2 → 5.
  // entry 3: total 2 → +, x1,x2 → 2; frequency +1 → same.
  assert.deepEqual(Array.from(tiesMerge([x1, x2, x3], w, 'total')), [3, 4, 5, 2]);
  assert.deepEqual(Array.from(tiesMerge([x1, x2, x3], w, 'frequency')), [-1, -1, 5, 2]);
  // Weights scale contributions but not the vote or the count.
  assert.deepEqual(Array.from(tiesMerge([x1, x2, x3], [2, 1, 1], 'total')), [6, 4, 5, 3]);
  // Entries where all are zero stay zero (max(1, count)).
  assert.deepEqual(Array.from(tiesMerge([new Float32Array(2), new Float32Array(2)], [1, 1], 'total')), [0, 0]);
});

test('ties on adapters equals trim → elect → disjoint mean per factor with c_i = √(w_i s_i)', () => {
  const inputs = [{ weights: a1, weight: 0.8 }, { weights: a3, weight: 0.5 }];
  const out = combineAdapters(inputs, 'ties', { density: 0.5, majoritySign: 'frequency' });
  const m1 = a1.modules.get(Q)!;
  const m3 = a3.modules.get(Q)!;
  const c = [Math.sqrt(0.8 * m1.scaling), Math.sqrt(0.5 * m3.scaling)];
  const expectA = tiesMerge([magnitudePrune(m1.A.data, 0.5), magnitudePrune(m3.A.data, 0.5)], c, 'frequency');
  assert.deepEqual(out.modules.get(Q)!.A.data, expectA);
  assert.throws(() => combineAdapters(inputs, 'ties'), isCode('INVALID_ARGUMENT'));
  assert.throws(() => combineAdapters(inputs, 'ties', { density: 1.5 }), isCode('INVALID_ARGUMENT'));
});

test('dareDrop keeps ≈density of entries, rescales kept ones by 1/density, and is seeded', () => {
  const t = Float32Array.from({ length: 20000 }, (_, i) => (i % 7) - 3 + 0.5);
  const d = dareDrop(t, 0.3, new Rng(1));
  let kept = 0;
  d.forEach((x, i) => {
    if (x !== 0) {
      kept++;
      assert.ok(Math.abs(x - t[i] / 0.3) < 1e-5);
    }
  });
  assert.ok(Math.abs(kept / t.length - 0.3) < 0.015, `kept fraction ${kept / t.length}`);
  assert.deepEqual(dareDrop(t, 0.3, new Rng(1)), d);
  assert.notDeepEqual(dareDrop(t, 0.3, new Rng(2)), d);
  // Expectation is preserved: the mean of many dropped copies approaches t.
  const mean = new Float64Array(8);
  const small = t.subarray(0, 8);
  const g = new Rng(3);
  for (let k = 0; k < 4000; k++) dareDrop(small, 0.5, g).forEach((x, i) => (mean[i] += x / 4000));
  assert.ok(maxAbsDiff(mean, small) < 0.2);
});

test('dare_linear / dare_ties: deterministic per seed, density 1 reduces to linear / ties', () => {
  const inputs = [{ weights: a1, weight: 0.8 }, { weights: a3, weight: 0.5 }];
  const x = combineAdapters(inputs, 'dare_ties', { density: 0.4, seed: 9 });
  const y = combineAdapters(inputs, 'dare_ties', { density: 0.4, seed: 9 });
  const z = combineAdapters(inputs, 'dare_ties', { density: 0.4, seed: 10 });
  assert.deepEqual(x.modules.get(Q)!.A.data, y.modules.get(Q)!.A.data);
  assert.notDeepEqual(x.modules.get(Q)!.A.data, z.modules.get(Q)!.A.data);
  const lin = combineAdapters(inputs, 'linear');
  const dl = combineAdapters(inputs, 'dare_linear', { density: 1, seed: 3 });
  assert.ok(maxAbsDiff(dl.modules.get(Q)!.B.data, lin.modules.get(Q)!.B.data) < 1e-6);
  const ties = combineAdapters(inputs, 'ties', { density: 1 });
  const dt = combineAdapters(inputs, 'dare_ties', { density: 1 });
  assert.deepEqual(dt.modules.get(V)!.A.data, ties.modules.get(V)!.A.data);
});

test('combineAdapters rejects shape conflicts, DoRA inputs and empty input', () => {
  const wrong = adapter(randomModule(rng, Q, 8, 5, 2, 1));
  assert.throws(() => combineAdapters([{ weights: a1, weight: 1 }, { weights: wrong, weight: 1 }], 'cat'), isCode('ADAPTER_INCOMPATIBLE'));
  const m = a1.modules.get(Q)!;
  const dora = adapter({ ...m, magnitude: hostTensor([8], new Float32Array(8).fill(1)) });
  assert.throws(() => combineAdapters([{ weights: dora, weight: 1 }], 'cat'), isCode('UNSUPPORTED'));
  assert.throws(() => combineAdapters([], 'cat'), isCode('INVALID_ARGUMENT'));
});
