import type { Graph } from './graph';
import { TensorData, formatType } from './types';
import { Value } from './value';

const MAX_INLINE_VALUES = 8;

function ref(v: Value): string {
  return `%${v.label}`;
}

function formatAttr(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((x) => formatAttr(x)).join(',')}]`;
  if (value && typeof value === 'object' && 'dtype' in value && 'data' in value) return formatTensor(value as TensorData);
  return String(value);
}

function formatTensor(t: TensorData): string {
  const head = formatType(t.dtype, t.shape);
  if (t.data.length > MAX_INLINE_VALUES) return `${head} <${t.data.length} values>`;
  return `${head} ${Array.from(t.data as ArrayLike<number | bigint>, (x) => String(x)).join(' ')}`.trimEnd();
}

/**
 * A readable, deterministic listing of the whole graph, one line per node, e.g.
 * `%12 = MatMul(%3, %w_q) {transA=false, transB=false} : f32[batch,seq,64]`.
 * Values print by id (creation order) or by name for inputs and initializers.
 */
export function dumpGraph(g: Graph): string {
  const lines: string[] = [];
  for (const v of g.inputs) lines.push(`input ${ref(v)} : ${formatType(v.dtype, v.shape)}`);
  for (const v of g.initializers) lines.push(`init ${ref(v)} : ${formatType(v.dtype, v.shape)}`);
  for (const n of g.nodes) {
    const attrs = Object.entries(n.attrs).map(([k, val]) => `${k}=${formatAttr(val)}`);
    const lhs = n.outputs.map(ref).join(', ');
    const types = n.outputs.map((o) => formatType(o.dtype, o.shape)).join(', ');
    lines.push(`${lhs} = ${n.op}(${n.inputs.map(ref).join(', ')})${attrs.length ? ` {${attrs.join(', ')}}` : ''} : ${types}`);
  }
  for (const [name, v] of g.outputs) lines.push(`output ${name} = ${ref(v)}`);
  return lines.join('\n') + '\n';
}
