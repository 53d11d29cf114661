import { assertMatrixSize, type DenseMatrix } from './dense';

/** Thin QR factors: A [m,n] = Q [m,k] · R [k,n], k = min(m,n), Q with orthonormal columns, R upper triangular. */
export interface QrResult {
  readonly Q: Float64Array;
  readonly R: Float64Array;
  readonly k: number;
}

/**
 * Householder QR. Signs are normalised so that diag(R) ≥ 0, which makes the factorisation
 * unique for full-rank A (useful for reproducible range finders and for tests).
 */
export function qr(a: DenseMatrix, m: number, n: number): QrResult {
  assertMatrixSize('qr', a, m, n);
  const k = Math.min(m, n);
  const r = Float64Array.from(a);
  // Householder vectors, v_j occupies rows j..m-1 of column j of `vs` (stored column-major for locality).
  const vs = new Float64Array(k * m);
  const w = new Float64Array(n);
  for (let j = 0; j < k; j++) {
    let norm2 = 0;
    for (let i = j; i < m; i++) norm2 += r[i * n + j] * r[i * n + j];
    const norm = Math.sqrt(norm2);
    const v = vs.subarray(j * m, (j + 1) * m);
    if (norm === 0) continue; // column already zero below the diagonal: H_j = I.
    const x0 = r[j * n + j];
    const alpha = x0 >= 0 ? -norm : norm;
    for (let i = j; i < m; i++) v[i] = r[i * n + j];
    v[j] -= alpha;
    let vnorm2 = 0;
    for (let i = j; i < m; i++) vnorm2 += v[i] * v[i];
    if (vnorm2 === 0) continue;
    const inv = 1 / Math.sqrt(vnorm2);
    for (let i = j; i < m; i++) v[i] *= inv;
    // R[j:, j:] -= 2 v (vᵀ R[j:, j:])
    w.fill(0, j);
    for (let i = j; i < m; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      for (let c = j; c < n; c++) w[c] += vi * r[i * n + c];
    }
    for (let i = j; i < m; i++) {
      const f = 2 * v[i];
      if (f === 0) continue;
      for (let c = j; c < n; c++) r[i * n + c] -= f * w[c];
    }
    for (let i = j + 1; i < m; i++) r[i * n + j] = 0;
    r[j * n + j] = alpha;
  }
  // Q = H_0 ⋯ H_{k−1} · I[:, :k], applied right-to-left.
  const q = new Float64Array(m * k);
  for (let i = 0; i < k; i++) q[i * k + i] = 1;
  const wq = new Float64Array(k);
  for (let j = k - 1; j >= 0; j--) {
    const v = vs.subarray(j * m, (j + 1) * m);
    wq.fill(0);
    for (let i = j; i < m; i++) {
      const vi = v[i];
      if (vi === 0) continue;
      for (let c = 0; c < k; c++) wq[c] += vi * q[i * k + c];
    }
    for (let i = j; i < m; i++) {
      const f = 2 * v[i];
      if (f === 0) continue;
      for (let c = 0; c < k; c++) q[i * k + c] -= f * wq[c];
    }
  }
  const rThin = new Float64Array(k * n);
  for (let i = 0; i < k; i++) {
    const flip = r[i * n + i] < 0 ? -1 : 1;
    for (let c = i; c < n; c++) rThin[i * n + c] = flip * r[i * n + c];
    if (flip < 0) for (let row = 0; row < m; row++) q[row * k + i] = -q[row * k + i];
  }
  return { Q: q, R: rThin, k };
}
