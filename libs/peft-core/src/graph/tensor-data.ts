import { KernelData, kernelTensor, KernelTypedArrays, OnnxTensorSpec, rawBytes } from '@palette/gpu-kernels';
import { graphError, DType, TensorData } from './types';

const ARRAY_TYPES: { [K in DType]: new (n: number) => KernelTypedArrays[K] } = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  bool: Uint8Array,
};

/**
 * A literal tensor. Plain numbers are converted (booleans as 0/1); a typed array of the dtype's
 * own kind (Float32Array for float32, ...) is used as is, without copying.
 */
export function tensorData(dtype: DType, shape: readonly number[], values?: readonly number[] | KernelData): TensorData {
  if (values === undefined || Array.isArray(values)) return kernelTensor(dtype, shape, values as readonly number[] | undefined);
  if (!(values instanceof ARRAY_TYPES[dtype])) {
    throw graphError(`tensorData: a ${values.constructor.name} cannot back a ${dtype} tensor; pass ${ARRAY_TYPES[dtype].name} or plain numbers`);
  }
  return kernelTensor(dtype, shape, values as KernelTypedArrays[typeof dtype]);
}

export function scalarTensor(value: number, dtype: DType): TensorData {
  return kernelTensor(dtype, [], [value]);
}

/** The ONNX TensorProto form of a literal; the bytes are shared, not copied. */
export function tensorSpec(t: TensorData, name?: string): OnnxTensorSpec {
  return { ...(name !== undefined ? { name } : {}), elemType: t.dtype, dims: [...t.shape], raw: rawBytes(t.data) };
}
