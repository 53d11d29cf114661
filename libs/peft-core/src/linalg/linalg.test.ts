import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeftCoreError } from '../errors';
import { Rng } from '../util/rng';
import {
  frobeniusNorm,
  identityMatrix,
  matmul,
  matmulTransA,
  matmulTransB,
  maxAbsDiff,
  scaleColumns,
  transpose,
} from './dense';
import { qr } from './qr';
import { inverse, solve } from './solve';
import { svd, type SvdResult } from './svd';
import { svdOfProduct, truncatedSvd } from './truncated-svd';

function randomMatrix(rng: Rng, m: number, n: number): Float64Array {
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return a;
}

function naiveMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
    c[i * n + j] = s;
  }
  return c;
}

function reconstruct(r: SvdResult, m: number, n: number): Float64Array {
  return matmulTransB(scaleColumns(r.U, m, r.k, r.S), r.V, m, r.k, n);
}

/** max |QᵀQ − I| for Q [m,k]. */
function orthonormalityError(q: Float64Array, m: number, k: number): number {
  return maxAbsDiff(matmulTransA(q, q, m, k, k), identityMatrix(k));
}

test('matmul variants agree with the textbook triple loop, f32 and f64 inputs', () => {
  const rng = new Rng(1);
  const a = randomMatrix(rng, 5, 7);
  const b = randomMatrix(rng, 7, 3);
  const expected = naiveMatmul(a, b, 5, 7, 3);
  assert.ok(maxAbsDiff(matmul(a, b, 5, 7, 3), expected) < 1e-12);
  assert.ok(maxAbsDiff(matmul(Float32Array.from(a), Float32Array.from(b), 5, 7, 3), expected) < 1e-5);
  assert.ok(maxAbsDiff(matmulTransB(a, transpose(b, 7, 3), 5, 7, 3), expected) < 1e-12);
  assert.ok(maxAbsDiff(matmulTransA(transpose(a, 5, 7), b, 7, 5, 3), expected) < 1e-12);
});

test('matmul rejects buffers that do not match their declared shape', () => {
  assert.throws(() => matmul(new Float64Array(5), new Float64Array(6), 2, 3, 2), (e: unknown) => e instanceof PeftCoreError && e.code === 'SHAPE_MISMATCH');
});

test('transpose round-trips and moves entries to (j, i)', () => {
  const rng = new Rng(2);
  const a = randomMatrix(rng, 37, 70); // spans several 32-wide blocks with ragged edges
  const t = transpose(a, 37, 70);
  assert.equal(t[5 * 37 + 3], a[3 * 70 + 5]);
  assert.deepEqual(transpose(t, 70, 37), a);
});

test('qr: tall, square and wide matrices give orthonormal Q, upper-triangular R with R_ii ≥ 0, and A = QR', () => {
  const rng = new Rng(3);
  for (const [m, n] of [[9, 4], [6, 6], [3, 8]] as const) {
    const a = randomMatrix(rng, m, n);
    const { Q, R, k } = qr(a, m, n);
    assert.equal(k, Math.min(m, n));
    assert.ok(orthonormalityError(Q, m, k) < 1e-13, `QᵀQ = I for ${m}×${n}`);
    for (let i = 0; i < k; i++) {
      assert.ok(R[i * n + i] >= 0);
      for (let j = 0; j < i; j++) assert.equal(R[i * n + j], 0);
    }
    assert.ok(maxAbsDiff(matmul(Q, R, m, k, n), a) < 1e-13, `A = QR for ${m}×${n}`);
  }
});

test('svd reconstructs random matrices to 1e-12 with orthonormal factors and descending S', () => {
  const rng = new Rng(4);
  for (const [m, n] of [[1, 1], [8, 5], [5, 8], [24, 24], [40, 13]] as const) {
    const a = randomMatrix(rng, m, n);
    const r = svd(a, m, n);
    assert.equal(r.k, Math.min(m, n));
    assert.ok(maxAbsDiff(reconstruct(r, m, n), a) < 1e-12, `reconstruction ${m}×${n}`);
    assert.ok(orthonormalityError(r.U, m, r.k) < 1e-12, `U orthonormal ${m}×${n}`);
    assert.ok(orthonormalityError(r.V, n, r.k) < 1e-12, `V orthonormal ${m}×${n}`);
    for (let i = 1; i < r.k; i++) assert.ok(r.S[i - 1] >= r.S[i]);
    assert.ok(r.S[r.k - 1] >= 0);
  }
});

test('svd recovers known singular values: a diagonal with mixed signs and a planted spectrum', () => {
  const d = new Float64Array([0, 0, 0, 0, -3, 0, 0, 0, 0, 0, 0.5, 0, 0, 7, 0, 0]); // a signed, permuted diagonal
  const r = svd(d, 4, 4);
  assert.deepEqual(Array.from(r.S), [7, 3, 0.5, 0]);

  const rng = new Rng(5);
  const m = 12;
  const n = 7;
  const u = qr(randomMatrix(rng, m, n), m, n).Q;
  const v = qr(randomMatrix(rng, n, n), n, n).Q;
  const planted = [100, 10, 1, 0.1, 1e-3, 1e-6, 1e-9];
  const a = matmulTransB(scaleColumns(u, m, n, planted), v, m, n, n);
  const got = svd(a, m, n);
  planted.forEach((s, i) => assert.ok(Math.abs(got.S[i] - s) < 1e-12 * 100, `σ_${i}: ${got.S[i]} vs ${s}`));
});

test('svd of a rank-deficient matrix: zero singular values and still-orthonormal U', () => {
  const rng = new Rng(6);
  const b = randomMatrix(rng, 10, 2);
  const c = randomMatrix(rng, 2, 6);
  const a = matmul(b, c, 10, 2, 6); // rank 2
  const r = svd(a, 10, 6);
  for (let i = 2; i < 6; i++) assert.ok(r.S[i] < 1e-12 * r.S[0]);
  assert.ok(maxAbsDiff(reconstruct(r, 10, 6), a) < 1e-12);
  assert.ok(orthonormalityError(r.U, 10, 6) < 1e-10);

  const zero = svd(new Float64Array(12), 4, 3);
  assert.deepEqual(Array.from(zero.S), [0, 0, 0]);
  assert.ok(orthonormalityError(zero.U, 4, 3) < 1e-15);
  assert.ok(orthonormalityError(zero.V, 3, 3) < 1e-15);
});

test('truncatedSvd: exact path for small inputs equals the leading part of the full SVD', () => {
  const rng = new Rng(7);
  const a = randomMatrix(rng, 20, 15);
  const full = svd(a, 20, 15);
  const t = truncatedSvd(a, 20, 15, 4);
  assert.equal(t.k, 4);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(t.S[i] - full.S[i]) < 1e-12);
  // Best rank-4 approximation error (Eckart–Young) is sqrt(Σ_{i≥4} σ_i²).
  const tail = Math.sqrt(full.S.slice(4).reduce((s, x) => s + x * x, 0));
  const err = frobeniusNorm(Float64Array.from(reconstruct(t, 20, 15), (x, i) => x - a[i]));
  assert.ok(Math.abs(err - tail) < 1e-10);
});

test('truncatedSvd: randomised path is exact on a low-rank matrix and close on a decaying spectrum', () => {
  const rng = new Rng(8);
  const m = 300;
  const n = 260;
  const a = matmul(randomMatrix(rng, m, 6), randomMatrix(rng, 6, n), m, 6, n);
  const t = truncatedSvd(a, m, n, 6, { seed: 1 });
  assert.ok(maxAbsDiff(reconstruct(t, m, n), a) < 1e-9 * frobeniusNorm(a));
  assert.ok(orthonormalityError(t.U, m, 6) < 1e-12);

  // Planted spectrum σ_i = 0.7^i: randomised top-5 must match to 1e-8 relative.
  const k = 40;
  const u = qr(randomMatrix(rng, m, k), m, k).Q;
  const v = qr(randomMatrix(rng, n, k), n, k).Q;
  const planted = Array.from({ length: k }, (_, i) => 0.7 ** i);
  const b = matmulTransB(scaleColumns(u, m, k, planted), v, m, k, n);
  const r = truncatedSvd(b, m, n, 5, { seed: 2 });
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(r.S[i] - planted[i]) < 1e-8, `σ_${i}`);
});

test('truncatedSvd is deterministic for a seed', () => {
  const rng = new Rng(9);
  const a = randomMatrix(rng, 280, 250);
  const x = truncatedSvd(a, 280, 250, 3, { seed: 5 });
  const y = truncatedSvd(a, 280, 250, 3, { seed: 5 });
  assert.deepEqual(x.S, y.S);
  assert.deepEqual(x.U, y.U);
});

test('svdOfProduct equals the SVD of the explicit product, for tall and wide factors', () => {
  const rng = new Rng(10);
  for (const [m, r, n] of [[30, 5, 20], [6, 9, 40], [8, 3, 8]] as const) {
    const b = randomMatrix(rng, m, r);
    const a = randomMatrix(rng, r, n);
    const p = matmul(b, a, m, r, n);
    const got = svdOfProduct(b, a, m, r, n);
    const ref = svd(p, m, n);
    assert.equal(got.k, Math.min(m, r, n));
    for (let i = 0; i < got.k; i++) assert.ok(Math.abs(got.S[i] - ref.S[i]) < 1e-11 * ref.S[0]);
    assert.ok(maxAbsDiff(reconstruct(got, m, n), p) < 1e-11 * ref.S[0]);
  }
});

test('solve and inverse: random systems, pivoting-required systems, and singular detection', () => {
  const rng = new Rng(11);
  const n = 12;
  const a = randomMatrix(rng, n, n);
  const x = randomMatrix(rng, n, 3);
  const b = matmul(a, x, n, n, 3);
  assert.ok(maxAbsDiff(solve(a, b, n, 3), x) < 1e-10);
  assert.ok(maxAbsDiff(matmul(a, inverse(a, n), n, n, n), identityMatrix(n)) < 1e-11);

  // Zero leading pivot: only solvable with row exchanges.
  const p = new Float64Array([0, 1, 1, 0]);
  assert.deepEqual(Array.from(solve(p, new Float64Array([2, 3]), 2, 1)), [3, 2]);

  const singular = new Float64Array([1, 2, 2, 4]);
  assert.throws(() => inverse(singular, 2), (e: unknown) => e instanceof PeftCoreError && e.code === 'SINGULAR_MATRIX');
});
