import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeftCoreError } from '../errors';
import { identityMatrix, matmul, matmulTransB, maxAbsDiff } from '../linalg/dense';
import { svd } from '../linalg/svd';
import { hostTensor } from '../tensor/host-tensor';
import { Rng } from '../util/rng';
import type { LoraModule } from './adapter';
import { deltaWeight, loraModuleDims, loraScaling } from './delta';
import { initLora } from './init';
import { doraWeightNorm, effectiveWeight, mergeIntoBase, unmergeFromBase } from './merge';

function randomF32(rng: Rng, n: number, std = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
}

function randomModule(rng: Rng, out: number, inF: number, r: number, scaling: number, dora = false): LoraModule {
  return {
    path: 'model.layers.0.self_attn.q_proj',
    A: hostTensor([r, inF], randomF32(rng, r * inF)),
    B: hostTensor([out, r], randomF32(rng, out * r)),
    scaling,
    magnitude: dora ? hostTensor([out], Float32Array.from({ length: out }, () => 0.5 + rng.uniform())) : undefined,
  };
}

const isCode = (code: string) => (e: unknown) => e instanceof PeftCoreError && e.code === code;

test('deltaWeight = scaling·B·A, and shape mismatches are named', () => {
  const rng = new Rng(1);
  const m = randomModule(rng, 5, 4, 3, 2.5);
  const expected = matmul(m.B.data, m.A.data, 5, 3, 4).map((x) => 2.5 * x);
  assert.ok(maxAbsDiff(deltaWeight(m), expected) < 1e-5);
  assert.deepEqual(loraModuleDims(m), { out: 5, in: 4, r: 3 });
  const bad: LoraModule = { ...m, B: hostTensor([5, 2]) };
  assert.throws(() => deltaWeight(bad), /rank 3 but lora_B has rank 2/);
  assert.equal(loraScaling(16, 4), 4);
  assert.equal(loraScaling(16, 4, true), 8);
});

test("initLora('peft-default'): A ~ U(±1/√in) like nn.Linear's kaiming_uniform(a=√5), B = 0", () => {
  const init = initLora('peft-default', { out: 16, in: 64, r: 8, alpha: 16, rng: new Rng(2) });
  const bound = 1 / 8;
  assert.deepEqual(init.A.shape, [8, 64]);
  assert.deepEqual(init.B.shape, [16, 8]);
  assert.equal(init.scaling, 2);
  assert.ok(init.B.data.every((x) => x === 0));
  assert.ok(init.A.data.every((x) => Math.abs(x) <= bound));
  const maxAbs = init.A.data.reduce((s, x) => Math.max(s, Math.abs(x)), 0);
  assert.ok(maxAbs > 0.95 * bound, 'samples reach the edge of the interval');
  const variance = init.A.data.reduce((s, x) => s + x * x, 0) / init.A.data.length;
  assert.ok(Math.abs(variance - bound * bound / 3) < 0.15 * bound * bound / 3);
  assert.equal(initLora('peft-default', { out: 16, in: 64, r: 8, alpha: 16, rng: new Rng(2) }).A.data[7], init.A.data[7]);
});

test("initLora('gaussian'): A ~ N(0, std 1/r) as PEFT, B = 0", () => {
  const r = 4;
  const init = initLora('gaussian', { out: 8, in: 512, r, alpha: 8, rng: new Rng(3) });
  assert.ok(init.B.data.every((x) => x === 0));
  const n = init.A.data.length;
  const mean = init.A.data.reduce((s, x) => s + x, 0) / n;
  const std = Math.sqrt(init.A.data.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
  assert.ok(Math.abs(std - 1 / r) < 0.05 / r, `std ${std}`);
  assert.ok(Math.abs(mean) < 0.05 / r);
});

test("initLora('pissa'): s·B·A is the best rank-r approximation and W_res + s·B·A = W", () => {
  const rng = new Rng(4);
  const out = 12;
  const inF = 10;
  const r = 3;
  const W = randomF32(rng, out * inF);
  const init = initLora('pissa', { W, out, in: inF, r, alpha: 6, useRslora: true });
  const s = 6 / Math.sqrt(3);
  assert.equal(init.scaling, s);
  const ba = matmul(init.B.data, init.A.data, out, r, inF);
  const base = init.baseWeight!.data;
  assert.ok(maxAbsDiff(Float64Array.from(ba, (x, i) => base[i] + s * x), W) < 1e-5);
  const full = svd(W, out, inF);
  const best = new Float64Array(out * inF);
  for (let i = 0; i < out; i++) for (let j = 0; j < inF; j++) {
    for (let c = 0; c < r; c++) best[i * inF + j] += full.U[i * full.k + c] * full.S[c] * full.V[j * full.k + c];
  }
  assert.ok(maxAbsDiff(ba.map((x) => s * x), best) < 1e-5);
  // A Aᵀ = diag(S_r / s) and Bᵀ B = diag(S_r / s): the two factors carry equal halves of the spectrum.
  const aat = matmulTransB(init.A.data, init.A.data, r, inF, r);
  for (let c = 0; c < r; c++) assert.ok(Math.abs(aat[c * r + c] - full.S[c] / s) < 1e-5);
  assert.ok(Math.abs(aat[1]) < 1e-5);
});

test("initLora('lora-ga'): A and B come from the gradient's singular vectors, stable scale, offset base", () => {
  const rng = new Rng(5);
  const out = 16;
  const inF = 12;
  const r = 2;
  const W = randomF32(rng, out * inF);
  const G = randomF32(rng, out * inF);
  const alpha = 4;
  const s = alpha / r;
  const factor = Math.pow(out, 0.25) / Math.sqrt(16);
  const gs = svd(G, out, inF);
  for (const direction of ['ArB2r', 'A2rBr', 'ArBr'] as const) {
    const init = initLora('lora-ga', { W, gradient: G, out, in: inF, r, alpha, direction });
    const aCols = direction === 'ArB2r' ? [0, 1] : direction === 'A2rBr' ? [2, 3] : [1, 3];
    const bCols = direction === 'ArB2r' ? [2, 3] : direction === 'A2rBr' ? [0, 1] : [0, 2];
    for (let j = 0; j < r; j++) {
      // Singular vectors are defined up to sign; compare |cosine| = 1.
      let dotA = 0;
      for (let c = 0; c < inF; c++) dotA += init.A.data[j * inF + c] * gs.V[c * gs.k + aCols[j]];
      assert.ok(Math.abs(Math.abs(dotA) - factor) < 1e-5, `${direction} A row ${j}`);
      let dotB = 0;
      for (let i = 0; i < out; i++) dotB += init.B.data[i * r + j] * gs.U[i * gs.k + bCols[j]];
      assert.ok(Math.abs(Math.abs(dotB) - factor) < 1e-5, `${direction} B col ${j}`);
    }
    const ba = matmul(init.B.data, init.A.data, out, r, inF);
    assert.ok(maxAbsDiff(Float64Array.from(ba, (x, i) => init.baseWeight!.data[i] + s * x), W) < 1e-5);
  }
  const gd = initLora('lora-ga', { W, gradient: G, out, in: inF, r, alpha, scale: 'gd' });
  const aat = matmulTransB(gd.A.data, gd.A.data, r, inF, r);
  assert.ok(maxAbsDiff(aat, identityMatrix(r).map((x) => x / (s * s))) < 1e-5);
  assert.throws(() => initLora('lora-ga', { W, gradient: G, out, in: inF, r: 7, alpha }), isCode('INVALID_ARGUMENT'));
});

test('merge then unmerge restores W; merged W·x equals W·x + s·B·A·x', () => {
  const rng = new Rng(6);
  const out = 9;
  const inF = 7;
  const m = randomModule(rng, out, inF, 3, 0.75);
  const W0 = randomF32(rng, out * inF);
  const W = W0.slice();
  const record = mergeIntoBase(W, m);
  assert.equal(record.weightNorm, undefined);
  const x = randomF32(rng, inF);
  const lora = matmul(m.B.data, matmul(m.A.data, x, 3, inF, 1), out, 3, 1);
  const expected = matmul(W0, x, out, inF, 1).map((v, i) => v + 0.75 * lora[i]);
  assert.ok(maxAbsDiff(matmul(W, x, out, inF, 1), expected) < 1e-4);
  unmergeFromBase(W, m, record);
  assert.ok(maxAbsDiff(W, W0) < 1e-5);
});

test('DoRA merge matches PEFT: W\' = m ⊙ (W+ΔW)/‖W+ΔW‖_row; unmerge with the recorded norm restores W', () => {
  const rng = new Rng(7);
  const out = 6;
  const inF = 5;
  const m = randomModule(rng, out, inF, 2, 1.5, true);
  const W0 = randomF32(rng, out * inF);
  const W = W0.slice();
  const record = mergeIntoBase(W, m);
  const delta = deltaWeight(m);
  for (let o = 0; o < out; o++) {
    let n2 = 0;
    for (let i = 0; i < inF; i++) n2 += (W0[o * inF + i] + delta[o * inF + i]) ** 2;
    // Every merged row has exactly the magnitude m_o as its norm.
    let merged2 = 0;
    for (let i = 0; i < inF; i++) merged2 += W[o * inF + i] ** 2;
    assert.ok(Math.abs(Math.sqrt(merged2) - m.magnitude!.data[o]) < 1e-5);
    assert.ok(Math.abs(record.weightNorm![o] - Math.sqrt(n2)) < 1e-5);
  }
  assert.throws(() => unmergeFromBase(W.slice(), m), isCode('INVALID_ARGUMENT'));
  unmergeFromBase(W, m, record);
  assert.ok(maxAbsDiff(W, W0) < 1e-5);

  // With m initialised to ‖W+ΔW‖ (PEFT's DoRA init when ΔW=0 generalised), DoRA equals plain LoRA.
  const norm = doraWeightNorm(W0, m);
  const neutral: LoraModule = { ...m, magnitude: hostTensor([out], Float32Array.from(norm)) };
  const plain: LoraModule = { ...m, magnitude: undefined };
  assert.ok(maxAbsDiff(effectiveWeight(W0, neutral), effectiveWeight(W0, plain)) < 1e-5);
});
