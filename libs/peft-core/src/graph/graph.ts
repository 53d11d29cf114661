import { normalizeAxis } from './dims';
import { OPS } from './op-table';
import { SLICE_TO_END } from './ops/shape';
import { scalarTensor } from './tensor-data';
import { DType, graphError, Shape, TensorData } from './types';
import { Node, OpAttrMap, OpName, Value } from './value';

let nextGraphId = 1;

/** A value or a plain number, which becomes a scalar constant of the other operand's dtype. */
export type Operand = Value | number;

export interface MatMulOptions {
  /** Use the transpose of the last two axes of the left operand. */
  transA?: boolean;
  /** Use the transpose of the last two axes of the right operand (x·Wᵀ for [out, in] weights). */
  transB?: boolean;
}

/**
 * A typed tensor graph under construction. Each builder method checks its operands and infers
 * the output's dtype and shape on the spot, so a mistake fails where it is made, naming the op.
 *
 *   const g = new Graph();
 *   const x = g.input('x', 'float32', ['batch', 16]);
 *   const w = g.input('w', 'float32', [16, 8]);
 *   g.output('y', g.matmul(x, w));
 */
export class Graph {
  readonly id = nextGraphId++;
  private readonly nodeList: Node[] = [];
  private readonly inputList: Value[] = [];
  private readonly initializerList: Value[] = [];
  private readonly outputMap = new Map<string, Value>();
  private readonly names = new Set<string>();
  private readonly scalarCache = new Map<string, Value>();
  private nextValueId = 0;

  get nodes(): readonly Node[] {
    return this.nodeList;
  }
  get inputs(): readonly Value[] {
    return this.inputList;
  }
  get initializers(): readonly Value[] {
    return this.initializerList;
  }
  get outputs(): ReadonlyMap<string, Value> {
    return this.outputMap;
  }

  // ---- sources -------------------------------------------------------------------------------

  /** A tensor fed at run time. Symbolic dims (strings) may differ between runs. */
  input(name: string, dtype: DType, shape: Shape): Value {
    this.claimName(name);
    const v = new Value(this.id, this.nextValueId++, dtype, [...shape], null, 0, { kind: 'input', name });
    this.inputList.push(v);
    return v;
  }

  /** A tensor stored in the model (frozen weights). Its bytes are referenced, not copied. */
  initializer(name: string, tensor: TensorData): Value {
    this.claimName(name);
    const v = new Value(this.id, this.nextValueId++, tensor.dtype, [...tensor.shape], null, 0, { kind: 'initializer', name, tensor });
    this.initializerList.push(v);
    return v;
  }

  /** A small literal tensor (a Constant node; use initializer() for large ones). */
  constant(tensor: TensorData): Value {
    return this.apply('Constant', [], { tensor })[0]!;
  }

  /** A scalar literal; repeated scalars of the same dtype and value share one node. */
  scalar(value: number, dtype: DType = 'float32'): Value {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : value}`;
    let v = this.scalarCache.get(key);
    if (!v) {
      v = this.constant(scalarTensor(value, dtype));
      this.scalarCache.set(key, v);
    }
    return v;
  }

  /** A tensor of one value, of a shape that may be symbolic. */
  fill(shape: Shape, value: number, dtype: DType): Value {
    return this.apply('Fill', [], { shape: [...shape], value, dtype })[0]!;
  }

  zerosLike(x: Value): Value {
    return this.fill(x.shape, 0, x.dtype);
  }

  /** Marks a value as a graph output under a name (a value may be output under several names). */
  output(name: string, v: Value): Value {
    this.own(v, 'output');
    if (this.outputMap.has(name)) throw graphError(`output '${name}' is already defined`);
    if (this.names.has(name) && !(v.leaf && v.leaf.name === name)) throw graphError(`output name '${name}' is already used by an input or initializer`);
    this.outputMap.set(name, v);
    return v;
  }

  // ---- elementwise ---------------------------------------------------------------------------

  add(a: Operand, b: Operand): Value {
    return this.binary('Add', a, b);
  }
  /** a₁ + a₂ + … in one pass (one output write instead of a chain of Adds). */
  sum(values: readonly Value[]): Value {
    if (values.length === 1) return values[0]!;
    return this.apply('Sum', values, {})[0]!;
  }
  sub(a: Operand, b: Operand): Value {
    return this.binary('Sub', a, b);
  }
  mul(a: Operand, b: Operand): Value {
    return this.binary('Mul', a, b);
  }
  div(a: Operand, b: Operand): Value {
    return this.binary('Div', a, b);
  }
  max(a: Operand, b: Operand): Value {
    return this.binary('Max', a, b);
  }
  min(a: Operand, b: Operand): Value {
    return this.binary('Min', a, b);
  }
  equal(a: Operand, b: Operand): Value {
    return this.binary('Equal', a, b);
  }
  less(a: Operand, b: Operand): Value {
    return this.binary('Less', a, b);
  }
  greater(a: Operand, b: Operand): Value {
    return this.binary('Greater', a, b);
  }
  /** cond ? a : b elementwise, with broadcasting. */
  where(cond: Value, a: Operand, b: Operand): Value {
    const [va, vb] = this.operands(a, b, 'Where');
    return this.apply('Where', [cond, va, vb], {})[0]!;
  }
  neg(x: Value): Value {
    return this.apply('Neg', [x], {})[0]!;
  }
  exp(x: Value): Value {
    return this.apply('Exp', [x], {})[0]!;
  }
  log(x: Value): Value {
    return this.apply('Log', [x], {})[0]!;
  }
  sqrt(x: Value): Value {
    return this.apply('Sqrt', [x], {})[0]!;
  }
  sigmoid(x: Value): Value {
    return this.apply('Sigmoid', [x], {})[0]!;
  }
  tanh(x: Value): Value {
    return this.apply('Tanh', [x], {})[0]!;
  }
  relu(x: Value): Value {
    return this.apply('Relu', [x], {})[0]!;
  }
  cos(x: Value): Value {
    return this.apply('Cos', [x], {})[0]!;
  }
  sin(x: Value): Value {
    return this.apply('Sin', [x], {})[0]!;
  }
  /** x ** exponent for a constant exponent. */
  pow(x: Value, exponent: number): Value {
    return this.apply('Pow', [x], { exponent })[0]!;
  }
  cast(x: Value, to: DType): Value {
    if (x.dtype === to) return x;
    return this.apply('Cast', [x], { to })[0]!;
  }

  // ---- linear algebra and shapes -------------------------------------------------------------

  /** Batched matmul with numpy broadcasting of the leading axes. */
  matmul(a: Value, b: Value, options: MatMulOptions = {}): Value {
    return this.apply('MatMul', [a, b], { transA: options.transA ?? false, transB: options.transB ?? false })[0]!;
  }
  /** Permutes axes; without perm, swaps the last two. */
  transpose(x: Value, perm?: readonly number[]): Value {
    const p = perm ? [...perm] : Array.from({ length: x.rank }, (_, i) => (i === x.rank - 2 ? x.rank - 1 : i === x.rank - 1 ? x.rank - 2 : i));
    if (p.every((q, i) => q === i)) return x;
    return this.apply('Transpose', [x], { perm: p })[0]!;
  }
  /** New shape with the same elements; one dim may be -1 (inferred, symbolic products allowed). */
  reshape(x: Value, shape: Shape): Value {
    return this.apply('Reshape', [x], { shape: [...shape] })[0]!;
  }
  /** Broadcasts x to a shape (numpy rules). */
  expand(x: Value, shape: Shape): Value {
    return this.apply('Expand', [x], { shape: [...shape] })[0]!;
  }
  unsqueeze(x: Value, axes: readonly number[]): Value {
    return this.apply('Unsqueeze', [x], { axes: [...axes] })[0]!;
  }
  squeeze(x: Value, axes: readonly number[]): Value {
    return this.apply('Squeeze', [x], { axes: axes.map((a) => normalizeAxis('Squeeze', a, x.rank)) })[0]!;
  }
  concat(values: readonly Value[], axis: number): Value {
    const rank = values[0]?.rank ?? 0;
    return this.apply('Concat', values, { axis: normalizeAxis('Concat', axis, rank) })[0]!;
  }
  /** x[start:end] along one axis (Python semantics: negative counts from the end; end omitted = to the end). */
  slice(x: Value, axis: number, start: number, end?: number): Value {
    const ax = normalizeAxis('Slice', axis, x.rank);
    const d = x.shape[ax]!;
    let s = start;
    let e = end ?? SLICE_TO_END;
    if (typeof d === 'number') {
      const clamp = (i: number): number => Math.min(Math.max(i < 0 ? i + d : i, 0), d);
      s = clamp(s);
      e = Math.max(clamp(e), s);
    }
    return this.apply('Slice', [x], { axis: ax, start: s, end: e })[0]!;
  }
  /** Zero padding along one axis. */
  pad(x: Value, axis: number, before: number, after: number): Value {
    return this.apply('Pad', [x], { axis: normalizeAxis('Pad', axis, x.rank), before, after })[0]!;
  }

  // ---- reductions and normalisers ------------------------------------------------------------

  reduceSum(x: Value, axes: readonly number[], keepdims = false): Value {
    return this.reduce('ReduceSum', x, axes, keepdims);
  }
  reduceMax(x: Value, axes: readonly number[], keepdims = false): Value {
    return this.reduce('ReduceMax', x, axes, keepdims);
  }
  reduceMean(x: Value, axes: readonly number[], keepdims = false): Value {
    return this.reduce('ReduceMean', x, axes, keepdims);
  }
  softmax(x: Value, axis = -1): Value {
    return this.apply('Softmax', [x], { axis: normalizeAxis('Softmax', axis, x.rank) })[0]!;
  }
  logSoftmax(x: Value, axis = -1): Value {
    return this.apply('LogSoftmax', [x], { axis: normalizeAxis('LogSoftmax', axis, x.rank) })[0]!;
  }
  /** Per-row cross-entropy of logits [N, C] against targets [N] (0 where ignored) and the log-probabilities [N, C]. */
  softmaxCrossEntropy(logits: Value, targets: Value, ignoreIndex: number): { loss: Value; logProb: Value } {
    const [loss, logProb] = this.apply('SoftmaxCrossEntropy', [logits, targets], { ignoreIndex });
    return { loss: loss!, logProb: logProb! };
  }
  /** The k largest (or smallest) entries along an axis, sorted, and their int64 positions. */
  topk(x: Value, k: number, axis = -1, largest = true): { values: Value; indices: Value } {
    const [values, indices] = this.apply('TopK', [x], { k, axis: normalizeAxis('TopK', axis, x.rank), largest });
    return { values: values!, indices: indices! };
  }

  // ---- indexing ------------------------------------------------------------------------------

  /** Rows (axis 0: embedding lookup, adapter pool lookup) or slices along another axis. */
  gather(data: Value, indices: Value, axis = 0): Value {
    return this.apply('Gather', [data, indices], { axis: normalizeAxis('Gather', axis, data.rank) })[0]!;
  }
  /** numpy take_along_axis: out has the indices' shape. */
  gatherElements(data: Value, indices: Value, axis: number): Value {
    return this.apply('GatherElements', [data, indices], { axis: normalizeAxis('GatherElements', axis, data.rank) })[0]!;
  }
  /** data with updates added at rows indices (along axis 0); repeated rows accumulate. */
  scatterAdd(data: Value, indices: Value, updates: Value): Value {
    return this.apply('ScatterAdd', [data, indices, updates], {})[0]!;
  }
  /** data with updates added at indices along an axis (the inverse of gatherElements). */
  scatterElementsAdd(data: Value, indices: Value, updates: Value, axis: number): Value {
    return this.apply('ScatterElementsAdd', [data, indices, updates], { axis: normalizeAxis('ScatterElementsAdd', axis, data.rank) })[0]!;
  }

  // ---- core ----------------------------------------------------------------------------------

  /** Adds a node for a primitive op after inferring its outputs; the one way nodes are created. */
  apply<K extends OpName>(op: K, inputs: readonly Value[], attrs: OpAttrMap[K]): Value[] {
    const def = OPS[op];
    if (def.arity !== 'variadic' && def.arity !== inputs.length) throw graphError(`${op}: expects ${def.arity} inputs, got ${inputs.length}`);
    for (const v of inputs) this.own(v, op);
    const specs = def.infer(inputs, attrs);
    const outputs: Value[] = [];
    const node: Node<K> = { id: this.nodeList.length, op, inputs: [...inputs], attrs, outputs };
    specs.forEach((s, i) => outputs.push(new Value(this.id, this.nextValueId++, s.dtype, s.shape, node, i, null)));
    this.nodeList.push(node);
    return outputs;
  }

  private binary(op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Max' | 'Min' | 'Equal' | 'Less' | 'Greater', a: Operand, b: Operand): Value {
    return this.apply(op, this.operands(a, b, op), {})[0]!;
  }

  private operands(a: Operand, b: Operand, op: string): [Value, Value] {
    if (typeof a === 'number' && typeof b === 'number') throw graphError(`${op}: at least one operand must be a graph value`);
    const va = typeof a === 'number' ? this.scalar(a, (b as Value).dtype) : a;
    const vb = typeof b === 'number' ? this.scalar(b, va.dtype) : b;
    return [va, vb];
  }

  private reduce(op: 'ReduceSum' | 'ReduceMax' | 'ReduceMean', x: Value, axes: readonly number[], keepdims: boolean): Value {
    const norm = axes.map((a) => normalizeAxis(op, a, x.rank)).sort((p, q) => p - q);
    return this.apply(op, [x], { axes: norm, keepdims })[0]!;
  }

  private own(v: Value, op: string): void {
    if (!(v instanceof Value) || v.graphId !== this.id) throw graphError(`${op}: operand does not belong to this graph`);
  }

  private claimName(name: string): void {
    if (!/^[A-Za-z_][A-Za-z0-9_.:/-]*$/.test(name)) throw graphError(`invalid tensor name '${name}'`);
    if (this.names.has(name)) throw graphError(`tensor name '${name}' is already used`);
    this.names.add(name);
  }
}

