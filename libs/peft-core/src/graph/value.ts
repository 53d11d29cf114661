import { Dim, DType, Shape, TensorData } from './types';

/** Where a value without a producing node comes from. */
export type Leaf = { kind: 'input'; name: string } | { kind: 'initializer'; name: string; tensor: TensorData };

/** Attributes of every primitive op, keyed by op name. Shapes and axes are static. */
export interface OpAttrMap {
  Constant: { tensor: TensorData };
  Fill: { shape: Dim[]; value: number; dtype: DType };
  Add: Record<string, never>;
  /** Elementwise sum of any number of same-dtype operands (broadcasting); autodiff's gradient accumulation. */
  Sum: Record<string, never>;
  Sub: Record<string, never>;
  Mul: Record<string, never>;
  Div: Record<string, never>;
  Max: Record<string, never>;
  Min: Record<string, never>;
  Equal: Record<string, never>;
  Less: Record<string, never>;
  Greater: Record<string, never>;
  Where: Record<string, never>;
  Neg: Record<string, never>;
  Exp: Record<string, never>;
  Log: Record<string, never>;
  Sqrt: Record<string, never>;
  Sigmoid: Record<string, never>;
  Tanh: Record<string, never>;
  Relu: Record<string, never>;
  Cos: Record<string, never>;
  Sin: Record<string, never>;
  Pow: { exponent: number };
  Cast: { to: DType };
  /** Batched matmul with numpy broadcasting; trans* transpose the last two axes of an operand. */
  MatMul: { transA: boolean; transB: boolean };
  Transpose: { perm: number[] };
  Reshape: { shape: Dim[] };
  Expand: { shape: Dim[] };
  Unsqueeze: { axes: number[] };
  Squeeze: { axes: number[] };
  Concat: { axis: number };
  /** x[start:end] along one axis, step 1; start/end already normalised to 0 <= start <= end when the dim is fixed. */
  Slice: { axis: number; start: number; end: number };
  /** Zero padding along one axis. */
  Pad: { axis: number; before: number; after: number };
  ReduceSum: { axes: number[]; keepdims: boolean };
  ReduceMax: { axes: number[]; keepdims: boolean };
  ReduceMean: { axes: number[]; keepdims: boolean };
  Softmax: { axis: number };
  LogSoftmax: { axis: number };
  TopK: { k: number; axis: number; largest: boolean };
  /** out = data[.., indices, ..] along axis (embedding lookup when axis = 0). */
  Gather: { axis: number };
  /** out[i][j] = data[i][indices[i][j]] (axis 1), numpy take_along_axis. */
  GatherElements: { axis: number };
  /** out = data; out[indices[p]] += updates[p] for rows along axis 0 (the gradient of Gather). */
  ScatterAdd: Record<string, never>;
  /** out = data; out[.., indices[p], ..] += updates[p] along axis (the gradient of GatherElements). */
  ScatterElementsAdd: { axis: number };
  /** Per-row −log softmax(logits)[target] over [N, C] (0 for ignored rows) and the log-probabilities. */
  SoftmaxCrossEntropy: { ignoreIndex: number };
}

export type OpName = keyof OpAttrMap;

/** One application of a primitive op. Nodes are immutable once built. */
export interface Node<K extends OpName = OpName> {
  readonly id: number;
  readonly op: K;
  readonly inputs: readonly Value[];
  readonly attrs: OpAttrMap[K];
  readonly outputs: readonly Value[];
}

/** A typed tensor in a graph: a graph input, an initializer, or an output of a node. */
export class Value {
  constructor(
    /** Identifies the owning graph, so values from two graphs are never mixed. */
    readonly graphId: number,
    readonly id: number,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly producer: Node | null,
    readonly outputIndex: number,
    readonly leaf: Leaf | null,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  /** The name used in dumps: the leaf name for inputs and initializers, the id otherwise. */
  get label(): string {
    return this.leaf ? this.leaf.name : String(this.id);
  }
}
