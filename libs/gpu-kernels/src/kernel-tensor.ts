/** Dense tensors as the compute layer exchanges them with the runtime. Row-major. */
export type KernelDType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';

export interface KernelTypedArrays {
  float32: Float32Array;
  float64: Float64Array;
  int64: BigInt64Array;
  int32: Int32Array;
  bool: Uint8Array;
}

export type KernelData = KernelTypedArrays[KernelDType];

export interface KernelTensor {
  readonly dtype: KernelDType;
  readonly shape: readonly number[];
  readonly data: KernelData;
}

export const KERNEL_DTYPES: readonly KernelDType[] = ['float32', 'float64', 'int64', 'int32', 'bool'];

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Builds a tensor, checking that the data length matches the shape. Numbers are converted for int64. */
export function kernelTensor<D extends KernelDType>(
  dtype: D,
  shape: readonly number[],
  data?: KernelTypedArrays[D] | readonly number[],
): KernelTensor & { dtype: D; data: KernelTypedArrays[D] } {
  const size = shapeSize(shape);
  const buf = data === undefined || Array.isArray(data) ? allocate(dtype, size, data as readonly number[] | undefined) : (data as KernelTypedArrays[D]);
  if (buf.length !== size) {
    throw new KernelError('TENSOR_INVALID', `${dtype} tensor of shape [${shape.join(', ')}] needs ${size} values, got ${buf.length}`);
  }
  return { dtype, shape: [...shape], data: buf } as KernelTensor & { dtype: D; data: KernelTypedArrays[D] };
}

function allocate<D extends KernelDType>(dtype: D, size: number, values?: readonly number[]): KernelTypedArrays[D] {
  const arrays: { [K in KernelDType]: () => KernelTypedArrays[K] } = {
    float32: () => (values ? Float32Array.from(values) : new Float32Array(size)),
    float64: () => (values ? Float64Array.from(values) : new Float64Array(size)),
    int64: () => (values ? BigInt64Array.from(values, (v) => BigInt(v)) : new BigInt64Array(size)),
    int32: () => (values ? Int32Array.from(values) : new Int32Array(size)),
    bool: () => (values ? Uint8Array.from(values, (v) => (v ? 1 : 0)) : new Uint8Array(size)),
  };
  return arrays[dtype]();
}

/** Reads element i as a JS number whatever the dtype (int64 beyond 2^53 loses precision). */
export function elementAt(t: KernelTensor, i: number): number {
  const v = t.data[i];
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

export type KernelErrorCode = 'DEVICE_UNAVAILABLE' | 'FEEDS_INVALID' | 'TENSOR_INVALID' | 'SESSION_FAILED' | 'SESSION_DISPOSED';

/** Errors of the compute layer; `code` is stable for callers that map errors. */
export class KernelError extends Error {
  constructor(
    readonly code: KernelErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KernelError';
  }
}
