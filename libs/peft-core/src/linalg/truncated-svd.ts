import { PeftCoreError } from '../errors';
import { Rng } from '../util/rng';
import { assertMatrixSize, matmul, matmulTransA, matmulTransB, transpose, type DenseMatrix } from './dense';
import { qr } from './qr';
import { svd, type SvdResult } from './svd';

export interface TruncatedSvdOptions {
  /** Extra sketch columns beyond r (Halko, Martinsson & Tropp 2011 recommend 5–10). Default 10. */
  readonly oversample?: number;
  /** Subspace (power) iterations, each re-orthonormalised by QR. Default 4, as torch.svd_lowrank's niter. */
  readonly powerIterations?: number;
  /** Seed of the Gaussian sketch. Default 0. */
  readonly seed?: number;
  /**
   * Use the exact Jacobi SVD when m·n is at most this many entries (or when the sketch would not
   * be smaller than the matrix). Default 65,536 (256×256).
   */
  readonly exactBelow?: number;
}

/**
 * The leading r singular triplets of A [m,n]: U [m,r], S [r], V [n,r] (r is clamped to min(m,n)).
 * Small matrices use the exact SVD; large ones use a randomised range finder with power iterations
 * (Halko et al. 2011, Alg. 4.4) followed by an exact SVD of the small projected matrix. The
 * randomised result is exact when rank(A) ≤ r + oversample and otherwise approximates the top r
 * to a relative accuracy governed by the singular-value decay.
 */
export function truncatedSvd(a: DenseMatrix, m: number, n: number, r: number, options: TruncatedSvdOptions = {}): SvdResult {
  assertMatrixSize('truncatedSvd', a, m, n);
  if (!Number.isInteger(r) || r < 0) throw new PeftCoreError('INVALID_ARGUMENT', `truncatedSvd: rank must be a non-negative integer, got ${r}`);
  const k = Math.min(r, m, n);
  const oversample = options.oversample ?? 10;
  const sketch = Math.min(k + oversample, m, n);
  const exactBelow = options.exactBelow ?? 65_536;
  if (m * n <= exactBelow || sketch >= Math.min(m, n)) return truncateSvd(svd(a, m, n), m, n, k);

  const rng = new Rng(options.seed ?? 0);
  const omega = new Float64Array(n * sketch);
  for (let i = 0; i < omega.length; i++) omega[i] = rng.normal();
  let q = qr(matmul(a, omega, m, n, sketch), m, sketch).Q;
  const iterations = options.powerIterations ?? 4;
  for (let it = 0; it < iterations; it++) {
    const z = qr(matmulTransA(a, q, m, n, sketch), n, sketch).Q; // Aᵀ Q [n, sketch]
    q = qr(matmul(a, z, m, n, sketch), m, sketch).Q; // A Z [m, sketch]
  }
  // B = Qᵀ A [sketch, n]; A ≈ Q B = (Q U_B) S Vᵀ.
  const b = matmulTransA(q, a, m, sketch, n);
  const small = svd(b, sketch, n);
  const u = matmul(q, small.U, m, sketch, small.k);
  return truncateSvd({ U: u, S: small.S, V: small.V, k: small.k }, m, n, k);
}

/**
 * Exact thin SVD of a low-rank product B [m,R] · A [R,n] without forming it: QR both factors,
 * take the SVD of the small core R_B R_Aᵀ, and rotate back. Returns k = min(R, m, n) triplets.
 * Cost O((m+n)R² + R³), so ΔW = B·A of any size is decomposed exactly.
 */
export function svdOfProduct(b: DenseMatrix, a: DenseMatrix, m: number, rank: number, n: number): SvdResult {
  assertMatrixSize('svdOfProduct B', b, m, rank);
  assertMatrixSize('svdOfProduct A', a, rank, n);
  const qb = qr(b, m, rank);
  const qa = qr(transpose(a, rank, n), n, rank);
  // core = R_B · R_Aᵀ  [kb, ka]
  const core = matmulTransB(qb.R, qa.R, qb.k, rank, qa.k);
  const inner = svd(core, qb.k, qa.k);
  return {
    U: matmul(qb.Q, inner.U, m, qb.k, inner.k),
    S: inner.S,
    V: matmul(qa.Q, inner.V, n, qa.k, inner.k),
    k: inner.k,
  };
}

/** Keeps the first r columns of U and V (already sorted by descending S). */
export function truncateSvd(full: SvdResult, m: number, n: number, r: number): SvdResult {
  const k = Math.min(r, full.k);
  if (k === full.k) return full;
  const U = new Float64Array(m * k);
  const V = new Float64Array(n * k);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) U[i * k + j] = full.U[i * full.k + j];
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) V[i * k + j] = full.V[i * full.k + j];
  return { U, S: full.S.slice(0, k), V, k };
}
