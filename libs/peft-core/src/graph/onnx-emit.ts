import { encodeModel, OnnxAttributeValue, OnnxNodeSpec, OnnxTensorSpec, OnnxValueInfoSpec } from '@palette/gpu-kernels';
import { topologicalOrder } from './autodiff';
import { dimFactors } from './dims';
import type { Graph } from './graph';
import { EmitContext } from './op-def';
import { OPS } from './op-table';
import { scalarTensor, tensorSpec } from './tensor-data';
import { Dim, DType, graphError } from './types';
import { Node, Value } from './value';

/** Opset 18 (ScatterND/ScatterElements reduction, Reduce* axes as inputs) with IR version 8. */
export const ONNX_OPSET = 18;
export const ONNX_IR_VERSION = 8;

export interface EmitOptions {
  /** Output names to keep (default: all). Nodes the kept outputs do not need are dropped. */
  outputs?: readonly string[];
  /** Use com.microsoft FusedMatMul for transposed float32 matmuls (default true). */
  fusedMatMul?: boolean;
  graphName?: string;
}

export interface EmittedModel {
  bytes: Uint8Array;
  /** Graph inputs the kept outputs need, in declaration order (unused inputs are dropped). */
  inputNames: string[];
  outputNames: string[];
}

/** Serialises a graph as an ONNX ModelProto. Throws for an op without an emitter entry. */
export function emitOnnx(g: Graph, options: EmitOptions = {}): EmittedModel {
  const outputNames = options.outputs ? [...options.outputs] : [...g.outputs.keys()];
  if (outputNames.length === 0) throw graphError('emitOnnx: the graph has no outputs');
  const outputs = outputNames.map((name) => {
    const v = g.outputs.get(name);
    if (!v) throw graphError(`emitOnnx: unknown output '${name}' (outputs: ${[...g.outputs.keys()].join(', ')})`);
    return v;
  });
  const order = topologicalOrder(...outputs);
  const used = new Set<number>();
  for (const n of order) for (const v of n.inputs) used.add(v.id);
  for (const v of outputs) used.add(v.id);

  const emitter = new Emitter(options.fusedMatMul ?? true);
  // Outputs computed by a node take the output's name directly, avoiding an Identity.
  outputs.forEach((v, i) => {
    if (!v.leaf && !emitter.hasName(v)) emitter.setName(v, outputNames[i]!);
  });
  const inputs = g.inputs.filter((v) => used.has(v.id));
  for (const v of inputs) emitter.register(v);
  const initializers: OnnxTensorSpec[] = g.initializers.filter((v) => used.has(v.id)).map((v) => {
    emitter.register(v);
    if (v.leaf?.kind !== 'initializer') throw graphError(`initializer ${v.label} has no tensor`);
    return tensorSpec(v.leaf.tensor, v.label);
  });
  for (const n of order) emitter.emitNode(n);
  outputs.forEach((v, i) => {
    const name = outputNames[i]!;
    if (emitter.name(v) !== name) emitter.node('Identity', [emitter.name(v)], [name]);
  });

  const info = (name: string, v: Value): OnnxValueInfoSpec => ({ name, elemType: v.dtype, dims: [...v.shape] });
  const bytes = encodeModel({
    graphName: options.graphName ?? 'palette_graph',
    nodes: emitter.nodes,
    inputs: inputs.map((v) => info(v.label, v)),
    outputs: outputs.map((v, i) => info(outputNames[i]!, v)),
    initializers: [...initializers, ...emitter.constants],
    opsets: emitter.usesMicrosoft ? { '': ONNX_OPSET, 'com.microsoft': 1 } : { '': ONNX_OPSET },
    irVersion: ONNX_IR_VERSION,
  });
  return { bytes, inputNames: inputs.map((v) => v.label), outputNames };
}

class Emitter implements EmitContext {
  readonly nodes: OnnxNodeSpec[] = [];
  readonly constants: OnnxTensorSpec[] = [];
  usesMicrosoft = false;
  private readonly names = new Map<number, string>();
  private readonly constantNames = new Map<string, string>();
  /** Where each symbolic dim can be read at run time: the first emitted value that has it. */
  private readonly dimSource = new Map<string, { name: string; axis: number }>();
  private readonly dimTensors = new Map<string, string>();
  private tempCount = 0;

  constructor(readonly fusedMatMul: boolean) {}

  hasName(v: Value): boolean {
    return this.names.has(v.id);
  }

  setName(v: Value, name: string): void {
    this.names.set(v.id, name);
  }

  name(v: Value): string {
    if (v.leaf) return v.leaf.name;
    let n = this.names.get(v.id);
    if (n === undefined) {
      n = `#${v.id}`;
      this.names.set(v.id, n);
    }
    return n;
  }

  temp(hint: string): string {
    return `#t${this.tempCount++}_${hint}`;
  }

  int64s(values: readonly number[]): string {
    return this.literal(`i64:${values.join(',')}`, () => ({ elemType: 'int64', dims: [values.length], raw: new Uint8Array(BigInt64Array.from(values, (x) => BigInt(x)).buffer) }));
  }

  scalar(value: number, dtype: DType): string {
    return this.literal(`${dtype}:${value}`, () => tensorSpec(scalarTensor(value, dtype)));
  }

  shapeTensor(dims: readonly Dim[]): string {
    const pieces: string[] = [];
    let run: number[] = [];
    for (const d of dims) {
      if (typeof d === 'number') {
        run.push(d);
        continue;
      }
      if (run.length) pieces.push(this.int64s(run));
      run = [];
      pieces.push(this.resolveDim(d));
    }
    if (run.length) pieces.push(this.int64s(run));
    if (pieces.length === 1) return pieces[0]!;
    const out = this.temp('shape');
    this.node('Concat', pieces, [out], { axis: { kind: 'int', value: 0 } });
    return out;
  }

  node(opType: string, inputs: readonly string[], outputs: readonly string[], attributes?: Record<string, OnnxAttributeValue>, domain?: string): void {
    if (domain === 'com.microsoft') this.usesMicrosoft = true;
    this.nodes.push({ opType, inputs, outputs, ...(attributes ? { attributes } : {}), ...(domain ? { domain } : {}) });
  }

  /** Records where a value's symbolic dims can be read. */
  register(v: Value): void {
    v.shape.forEach((d, axis) => {
      if (typeof d === 'string' && !this.dimSource.has(d)) this.dimSource.set(d, { name: this.name(v), axis });
    });
  }

  emitNode(n: Node): void {
    const def = OPS[n.op] as { emit?: (ctx: EmitContext, node: Node) => void } | undefined;
    if (!def?.emit) throw graphError(`no ONNX emitter for op '${n.op}'`);
    def.emit(this, n);
    for (const o of n.outputs) this.register(o);
  }

  private literal(key: string, make: () => OnnxTensorSpec): string {
    let name = this.constantNames.get(key);
    if (name === undefined) {
      name = `#c${this.constantNames.size}`;
      this.constantNames.set(key, name);
      this.constants.push({ ...make(), name });
    }
    return name;
  }

  /** A [1] int64 tensor holding a symbolic dim: read from a value's shape, or a product of such. */
  private resolveDim(d: string): string {
    const cached = this.dimTensors.get(d);
    if (cached) return cached;
    let out: string;
    const src = this.dimSource.get(d);
    if (src) {
      out = this.temp('dim');
      this.node('Shape', [src.name], [out], { start: { kind: 'int', value: src.axis }, end: { kind: 'int', value: src.axis + 1 } });
    } else {
      const { coef, syms } = dimFactors(d);
      if (syms.length === 1 && syms[0] === d) throw graphError(`cannot resolve symbolic dim '${d}' at run time: no value computed before it has that dim`);
      out = coef === 1 ? this.resolveDim(syms[0]!) : this.int64s([coef]);
      for (const s of coef === 1 ? syms.slice(1) : syms) {
        const next = this.temp('dim');
        this.node('Mul', [out, this.resolveDim(s)], [next]);
        out = next;
      }
    }
    this.dimTensors.set(d, out);
    return out;
  }
}
