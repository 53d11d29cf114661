import { kernelTensor, OnnxTensorSpec, rawBytes } from '@palette/gpu-kernels';
import { DType, TensorData } from './types';

/** A literal tensor from plain numbers (booleans as 0/1). */
export function tensorData(dtype: DType, shape: readonly number[], values?: readonly number[]): TensorData {
  return kernelTensor(dtype, shape, values);
}

export function scalarTensor(value: number, dtype: DType): TensorData {
  return kernelTensor(dtype, [], [value]);
}

/** The ONNX TensorProto form of a literal; the bytes are shared, not copied. */
export function tensorSpec(t: TensorData, name?: string): OnnxTensorSpec {
  return { ...(name !== undefined ? { name } : {}), elemType: t.dtype, dims: [...t.shape], raw: rawBytes(t.data) };
}
