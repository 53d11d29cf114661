import type { KernelTensor } from '@palette/gpu-kernels';
import { PeftCoreError } from '../errors';

/** Element types of graph values. float64 exists for gradient checks; models run in float32. */
export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';

/**
 * A dimension: a fixed size, or a symbol resolved when the graph runs. Symbols are identifiers
 * ('batch', 'seq') or products of them and a number, written canonically ('4*batch*seq'),
 * which is what reshapes that merge symbolic axes produce. Other derived symbols (a slice of a
 * symbolic axis, a concat of two) are opaque names such as 'seq-1' or 'past+seq'.
 */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** A literal tensor: constants and initializers (frozen weights). Same layout as gpu-kernels. */
export type TensorData = KernelTensor;

export const DTYPE_SHORT: Record<DType, string> = { float32: 'f32', float64: 'f64', int64: 'i64', int32: 'i32', bool: 'bool' };

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function isInteger(dtype: DType): boolean {
  return dtype === 'int64' || dtype === 'int32';
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

export function formatType(dtype: DType, shape: Shape): string {
  return `${DTYPE_SHORT[dtype]}${formatShape(shape)}`;
}

/** Errors raised while building or emitting a graph. */
export function graphError(message: string, details?: Record<string, unknown>): PeftCoreError {
  return new PeftCoreError('GRAPH_INVALID', message, details);
}

export function shapeError(message: string, details?: Record<string, unknown>): PeftCoreError {
  return new PeftCoreError('SHAPE_MISMATCH', message, details);
}
