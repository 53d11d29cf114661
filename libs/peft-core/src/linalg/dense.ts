import { PeftCoreError } from '../errors';

/** A dense row-major matrix buffer. Inputs may be f32 or f64; results are f64. */
export type DenseMatrix = Float64Array | Float32Array;

/** Throws SHAPE_MISMATCH unless `data` holds exactly rows×cols values. */
export function assertMatrixSize(name: string, data: ArrayLike<number>, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new PeftCoreError('SHAPE_MISMATCH', `${name}: dimensions must be non-negative integers, got [${rows}, ${cols}]`);
  }
  if (data.length !== rows * cols) {
    throw new PeftCoreError(
      'SHAPE_MISMATCH',
      `${name}: expected ${rows}×${cols} = ${rows * cols} values, got ${data.length}`,
    );
  }
}

/**
 * C = A·B with A [m,k], B [k,n]. The i-p-j loop order streams rows of B and C contiguously,
 * which is several times faster in JS than the textbook i-j-p order.
 */
export function matmul(a: DenseMatrix, b: DenseMatrix, m: number, k: number, n: number): Float64Array {
  assertMatrixSize('matmul A', a, m, k);
  assertMatrixSize('matmul B', b, k, n);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const cRow = i * n;
    for (let p = 0; p < k; p++) {
      const aip = a[i * k + p];
      if (aip === 0) continue;
      const bRow = p * n;
      for (let j = 0; j < n; j++) c[cRow + j] += aip * b[bRow + j];
    }
  }
  return c;
}

/** C = A·Bᵀ with A [m,k], B [n,k]: rows of both operands are contiguous, so each entry is one dot product. */
export function matmulTransB(a: DenseMatrix, b: DenseMatrix, m: number, k: number, n: number): Float64Array {
  assertMatrixSize('matmulTransB A', a, m, k);
  assertMatrixSize('matmulTransB B', b, n, k);
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const aRow = i * k;
    for (let j = 0; j < n; j++) {
      const bRow = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += a[aRow + p] * b[bRow + p];
      c[i * n + j] = s;
    }
  }
  return c;
}

/** C = Aᵀ·B with A [k,m], B [k,n]: accumulates outer products of matching rows. */
export function matmulTransA(a: DenseMatrix, b: DenseMatrix, k: number, m: number, n: number): Float64Array {
  assertMatrixSize('matmulTransA A', a, k, m);
  assertMatrixSize('matmulTransA B', b, k, n);
  const c = new Float64Array(m * n);
  for (let p = 0; p < k; p++) {
    const aRow = p * m;
    const bRow = p * n;
    for (let i = 0; i < m; i++) {
      const api = a[aRow + i];
      if (api === 0) continue;
      const cRow = i * n;
      for (let j = 0; j < n; j++) c[cRow + j] += api * b[bRow + j];
    }
  }
  return c;
}

/** Aᵀ [n,m] of A [m,n], blocked so both reads and writes stay in cache for large matrices. */
export function transpose(a: DenseMatrix, m: number, n: number): Float64Array {
  assertMatrixSize('transpose', a, m, n);
  const t = new Float64Array(m * n);
  const block = 32;
  for (let i0 = 0; i0 < m; i0 += block) {
    const iEnd = Math.min(i0 + block, m);
    for (let j0 = 0; j0 < n; j0 += block) {
      const jEnd = Math.min(j0 + block, n);
      for (let i = i0; i < iEnd; i++) {
        for (let j = j0; j < jEnd; j++) t[j * m + i] = a[i * n + j];
      }
    }
  }
  return t;
}

/** The n×n identity. */
export function identityMatrix(n: number): Float64Array {
  const e = new Float64Array(n * n);
  for (let i = 0; i < n; i++) e[i * n + i] = 1;
  return e;
}

/** Frobenius norm, accumulated in f64. */
export function frobeniusNorm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** max |a_i − b_i|; the two buffers must have equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new PeftCoreError('SHAPE_MISMATCH', `maxAbsDiff: lengths differ (${a.length} vs ${b.length})`);
  }
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Columns [c0, c1) of A [m,n] as a new m×(c1−c0) matrix. */
export function sliceColumns(a: DenseMatrix, m: number, n: number, c0: number, c1: number): Float64Array {
  assertMatrixSize('sliceColumns', a, m, n);
  if (c0 < 0 || c1 > n || c0 > c1) {
    throw new PeftCoreError('SHAPE_MISMATCH', `sliceColumns: range [${c0}, ${c1}) outside 0..${n}`);
  }
  const w = c1 - c0;
  const out = new Float64Array(m * w);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < w; j++) out[i * w + j] = a[i * n + c0 + j];
  }
  return out;
}

/** A·diag(d): scales column j of A [m,n] by d[j]. */
export function scaleColumns(a: DenseMatrix, m: number, n: number, d: ArrayLike<number>): Float64Array {
  assertMatrixSize('scaleColumns', a, m, n);
  if (d.length !== n) throw new PeftCoreError('SHAPE_MISMATCH', `scaleColumns: need ${n} scales, got ${d.length}`);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = a[i * n + j] * d[j];
  }
  return out;
}

/** diag(d)·A: scales row i of A [m,n] by d[i]. */
export function scaleRows(a: DenseMatrix, m: number, n: number, d: ArrayLike<number>): Float64Array {
  assertMatrixSize('scaleRows', a, m, n);
  if (d.length !== m) throw new PeftCoreError('SHAPE_MISMATCH', `scaleRows: need ${m} scales, got ${d.length}`);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) out[i * n + j] = a[i * n + j] * d[i];
  }
  return out;
}
