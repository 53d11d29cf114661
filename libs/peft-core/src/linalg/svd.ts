import { assertMatrixSize, matmul, transpose, type DenseMatrix } from './dense';
import { qr } from './qr';

/**
 * Thin singular value decomposition A [m,n] = U diag(S) Vᵀ, k = min(m,n):
 * U [m,k] and V [n,k] with orthonormal columns, S [k] non-negative and sorted descending.
 */
export interface SvdResult {
  readonly U: Float64Array;
  readonly S: Float64Array;
  readonly V: Float64Array;
  readonly k: number;
}

const EPS = 2.220446049250313e-16;
const MAX_SWEEPS = 80;

/**
 * Exact thin SVD by one-sided (Hestenes) Jacobi, which is accurate to a few ulps relative to
 * ‖A‖ (≈1e-13 reconstruction on O(1) matrices). Tall inputs are first reduced by QR
 * (A = QR, SVD of the square R), wide inputs are handled through Aᵀ. Cost is O(min(m,n)²·max(m,n))
 * per sweep with ~6–10 sweeps, so use truncatedSvd for large matrices when only the top r are needed.
 */
export function svd(a: DenseMatrix, m: number, n: number): SvdResult {
  assertMatrixSize('svd', a, m, n);
  if (m < n) {
    const t = svd(transpose(a, m, n), n, m);
    return { U: t.V, S: t.S, V: t.U, k: t.k };
  }
  if (n === 0) return { U: new Float64Array(0), S: new Float64Array(0), V: new Float64Array(0), k: 0 };
  if (m > n) {
    // QR preconditioning: Jacobi then works on an n×n triangle instead of m×n columns.
    const { Q, R } = qr(a, m, n);
    const inner = jacobiSvdSquareOrTall(R, n, n);
    return { U: matmul(Q, inner.U, m, n, n), S: inner.S, V: inner.V, k: n };
  }
  return jacobiSvdSquareOrTall(a, m, n);
}

/** One-sided Jacobi for m ≥ n. Columns are rotated pairwise until mutually orthogonal. */
function jacobiSvdSquareOrTall(a: DenseMatrix, m: number, n: number): SvdResult {
  // Column-major working copies so each column is a contiguous run.
  const g = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) g[j * m + i] = a[i * n + j];
  const v = new Float64Array(n * n);
  for (let j = 0; j < n; j++) v[j * n + j] = 1;
  const norms2 = new Float64Array(n);
  const tol = Math.max(1, Math.sqrt(m)) * EPS;

  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    for (let j = 0; j < n; j++) norms2[j] = dot(g, j * m, g, j * m, m);
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const alpha = norms2[p];
        const beta = norms2[q];
        if (alpha === 0 || beta === 0) continue;
        const gamma = dot(g, p * m, g, q * m, m);
        if (Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        rotate(g, p * m, q * m, m, c, s);
        rotate(v, p * n, q * n, n, c, s);
        norms2[p] = alpha - t * gamma;
        norms2[q] = beta + t * gamma;
      }
    }
    if (!rotated) break;
  }

  const sigma = new Float64Array(n);
  for (let j = 0; j < n; j++) sigma[j] = Math.sqrt(dot(g, j * m, g, j * m, m));
  const order = Array.from({ length: n }, (_, j) => j).sort((x, y) => sigma[y] - sigma[x]);

  const U = new Float64Array(m * n);
  const V = new Float64Array(n * n);
  const S = new Float64Array(n);
  const zeroColumns: number[] = [];
  order.forEach((src, dst) => {
    S[dst] = sigma[src];
    for (let i = 0; i < n; i++) V[i * n + dst] = v[src * n + i];
    if (sigma[src] === 0) {
      zeroColumns.push(dst);
      return;
    }
    const inv = 1 / sigma[src];
    for (let i = 0; i < m; i++) U[i * n + dst] = g[src * m + i] * inv;
  });
  completeOrthonormalColumns(U, m, n, zeroColumns);
  return { U, S, V, k: n };
}

function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i++) s += x[xo + i] * y[yo + i];
  return s;
}

function rotate(x: Float64Array, po: number, qo: number, len: number, c: number, s: number): void {
  for (let i = 0; i < len; i++) {
    const xp = x[po + i];
    const xq = x[qo + i];
    x[po + i] = c * xp - s * xq;
    x[qo + i] = s * xp + c * xq;
  }
}

/**
 * Exactly-zero singular values leave zero columns in U; replace them with unit vectors orthogonal
 * to every other column (Gram–Schmidt over the standard basis), so U always has orthonormal columns.
 */
function completeOrthonormalColumns(u: Float64Array, m: number, k: number, missing: readonly number[]): void {
  if (missing.length === 0) return;
  const pending = new Set(missing);
  let basis = 0;
  for (const col of missing) {
    for (; basis < m; basis++) {
      const cand = new Float64Array(m);
      cand[basis] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (let other = 0; other < k; other++) {
          if (other === col || pending.has(other)) continue;
          let d = 0;
          for (let i = 0; i < m; i++) d += u[i * k + other] * cand[i];
          for (let i = 0; i < m; i++) cand[i] -= d * u[i * k + other];
        }
      }
      let norm = 0;
      for (let i = 0; i < m; i++) norm += cand[i] * cand[i];
      norm = Math.sqrt(norm);
      if (norm > 0.5) {
        for (let i = 0; i < m; i++) u[i * k + col] = cand[i] / norm;
        pending.delete(col);
        basis++;
        break;
      }
    }
  }
}
