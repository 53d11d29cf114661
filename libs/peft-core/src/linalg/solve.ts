import { PeftCoreError } from '../errors';
import { assertMatrixSize, identityMatrix, type DenseMatrix } from './dense';

const EPS = 2.220446049250313e-16;

/**
 * X = A⁻¹·B for square A [n,n] and B [n,nrhs], by Gauss–Jordan elimination with partial
 * pivoting on the augmented matrix [A | B]. Throws SINGULAR_MATRIX when a pivot falls below
 * n·eps·max|A| (the matrix is singular to working precision).
 */
export function solve(a: DenseMatrix, b: DenseMatrix, n: number, nrhs: number): Float64Array {
  assertMatrixSize('solve A', a, n, n);
  assertMatrixSize('solve B', b, n, nrhs);
  const w = n + nrhs;
  const aug = new Float64Array(n * w);
  let maxAbs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      aug[i * w + j] = a[i * n + j];
      maxAbs = Math.max(maxAbs, Math.abs(a[i * n + j]));
    }
    for (let j = 0; j < nrhs; j++) aug[i * w + n + j] = b[i * nrhs + j];
  }
  const threshold = Math.max(n, 1) * EPS * maxAbs;
  for (let col = 0; col < n; col++) {
    let pivotRow = col;
    for (let i = col + 1; i < n; i++) {
      if (Math.abs(aug[i * w + col]) > Math.abs(aug[pivotRow * w + col])) pivotRow = i;
    }
    const pivot = aug[pivotRow * w + col];
    if (maxAbs === 0 || Math.abs(pivot) <= threshold) {
      throw new PeftCoreError('SINGULAR_MATRIX', `solve: matrix is singular to working precision (column ${col})`, {
        column: col,
        pivot,
      });
    }
    if (pivotRow !== col) {
      for (let j = 0; j < w; j++) {
        const t = aug[col * w + j];
        aug[col * w + j] = aug[pivotRow * w + j];
        aug[pivotRow * w + j] = t;
      }
    }
    const inv = 1 / pivot;
    for (let j = col; j < w; j++) aug[col * w + j] *= inv;
    for (let i = 0; i < n; i++) {
      if (i === col) continue;
      const f = aug[i * w + col];
      if (f === 0) continue;
      for (let j = col; j < w; j++) aug[i * w + j] -= f * aug[col * w + j];
    }
  }
  const x = new Float64Array(n * nrhs);
  for (let i = 0; i < n; i++) for (let j = 0; j < nrhs; j++) x[i * nrhs + j] = aug[i * w + n + j];
  return x;
}

/** A⁻¹ for square A [n,n] (Gauss–Jordan with partial pivoting; throws SINGULAR_MATRIX). */
export function inverse(a: DenseMatrix, n: number): Float64Array {
  return solve(a, identityMatrix(n), n, n);
}
