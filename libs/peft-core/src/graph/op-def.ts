import type { OnnxAttributeValue } from '@palette/gpu-kernels';
import type { Graph } from './graph';
import { Dim, DType } from './types';
import { Node, OpAttrMap, OpName, Value } from './value';

/** The type of one output, as inference computes it. */
export interface OutputSpec {
  dtype: DType;
  shape: Dim[];
}

/** What an op's ONNX emitter may do: name values, add nodes and constants, materialise shapes. */
export interface EmitContext {
  /** The ONNX name of a graph value. */
  name(v: Value): string;
  /** A fresh name for an intermediate that only this emitter uses. */
  temp(hint: string): string;
  /** A 1-D int64 initializer with these values (deduplicated). */
  int64s(values: readonly number[]): string;
  /** A scalar initializer of this dtype (deduplicated). */
  scalar(value: number, dtype: DType): string;
  /** A 1-D int64 tensor holding these dims at run time (symbols read from the shapes of values). */
  shapeTensor(dims: readonly Dim[]): string;
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes?: Record<string, OnnxAttributeValue>, domain?: string): void;
  /** Whether com.microsoft FusedMatMul may be used (float32 only in ORT's CPU kernels). */
  readonly fusedMatMul: boolean;
}

/**
 * Gradients of a node's inputs given its outputs' gradients; undefined where none flows.
 * `needs[i]` says whether input i's gradient is wanted, so rules skip work for frozen operands
 * (a frozen base weight's gradient is a full GEMM).
 */
export type GradRule<K extends OpName> = (
  g: Graph,
  node: Node<K>,
  outGrads: readonly (Value | undefined)[],
  needs: readonly boolean[],
) => (Value | undefined)[];

export interface OpDef<K extends OpName> {
  /** Number of inputs, or 'variadic' (Concat). */
  arity: number | 'variadic';
  /** Checks inputs and attributes and returns output types; throws naming the op and the shapes. */
  infer(inputs: readonly Value[], attrs: OpAttrMap[K]): OutputSpec[];
  emit(ctx: EmitContext, node: Node<K>): void;
  /** Absent for ops that are not differentiable (comparisons, index ops' integer inputs). */
  grad?: GradRule<K>;
}

export type OpTable = { [K in OpName]: OpDef<K> };

/** ONNX attribute helpers. */
export const attr = {
  int: (value: number): OnnxAttributeValue => ({ kind: 'int', value }),
  float: (value: number): OnnxAttributeValue => ({ kind: 'float', value }),
  ints: (value: readonly number[]): OnnxAttributeValue => ({ kind: 'ints', value }),
  string: (value: string): OnnxAttributeValue => ({ kind: 'string', value }),
};

/** ONNX TensorProto data type codes, for Cast's `to`. */
export const ONNX_DTYPE_CODE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 };

export function describe(inputs: readonly Value[]): string {
  return inputs.map((v) => `${v.dtype}[${v.shape.join(',')}]`).join(', ');
}
