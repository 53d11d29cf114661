import { broadcastShapes, divDims, normalizeAxis, numelDim, sameDim } from '../dims';
import { attr, describe, OpDef } from '../op-def';
import { Dim, graphError, shapeError } from '../types';
import { unbroadcast } from './grad-util';

/** Slice end meaning "to the end of the axis" (ONNX clamps it). */
export const SLICE_TO_END = 2 ** 53 - 1;

function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

function sliceDim(d: Dim, start: number, end: number): Dim {
  if (typeof d === 'number') return end - start;
  if (start === 0 && end === SLICE_TO_END) return d;
  if (start >= 0 && end >= 0 && end !== SLICE_TO_END) return end - start;
  return `${d}[${start}:${end === SLICE_TO_END ? '' : end}]`;
}

export const SHAPE_OPS: { [K in 'Transpose' | 'Reshape' | 'Expand' | 'Unsqueeze' | 'Squeeze' | 'Concat' | 'Slice' | 'Pad']: OpDef<K> } = {
  Transpose: {
    arity: 1,
    infer: ([x], { perm }) => {
      const sorted = [...perm].sort((a, b) => a - b);
      if (perm.length !== x!.rank || sorted.some((p, i) => p !== i)) throw shapeError(`Transpose: perm [${perm.join(',')}] is not a permutation of the axes of ${describe([x!])}`);
      return [{ dtype: x!.dtype, shape: perm.map((p) => x!.shape[p]!) }];
    },
    emit: (ctx, n) => ctx.node('Transpose', [ctx.name(n.inputs[0]!)], [ctx.name(n.outputs[0]!)], { perm: attr.ints(n.attrs.perm) }),
    grad: (g, n, [dy]) => [g.transpose(dy!, inversePerm(n.attrs.perm))],
  },
  Reshape: {
    arity: 1,
    infer: ([x], { shape }) => {
      const inferAt = shape.indexOf(-1);
      if (shape.filter((d) => d === -1).length > 1) throw shapeError(`Reshape: at most one -1 in [${shape.join(',')}]`);
      const total = numelDim(x!.shape);
      const known = numelDim(shape.filter((d) => d !== -1));
      const out = [...shape];
      if (inferAt >= 0) {
        const rest = divDims(total, known);
        if (rest === undefined) throw shapeError(`Reshape: cannot infer -1 reshaping ${describe([x!])} to [${shape.join(',')}]`);
        out[inferAt] = rest;
      } else if (!sameDim(total, known)) {
        throw shapeError(`Reshape: ${describe([x!])} has ${total} elements, [${shape.join(',')}] has ${known}`);
      }
      return [{ dtype: x!.dtype, shape: out }];
    },
    emit: (ctx, n) => {
      const x = n.inputs[0]!;
      const out = n.outputs[0]!;
      // Fixed dims are literals, a symbol kept at its position is 0 (copy), and one other symbol
      // may be -1; only more than that needs the shape assembled at run time.
      const spec: number[] = [];
      let unresolved = 0;
      out.shape.forEach((d, i) => {
        if (typeof d === 'number') spec.push(d);
        else if (i < x.rank && sameDim(x.shape[i]!, d)) spec.push(0);
        else {
          spec.push(-1);
          unresolved += 1;
        }
      });
      const shape = unresolved <= 1 ? ctx.int64s(spec) : ctx.shapeTensor(out.shape);
      ctx.node('Reshape', [ctx.name(x), shape], [ctx.name(out)]);
    },
    grad: (g, n, [dy]) => [g.reshape(dy!, [...n.inputs[0]!.shape])],
  },
  Expand: {
    arity: 1,
    infer: ([x], { shape }) => {
      if (shape.length < x!.rank) throw shapeError(`Expand: target [${shape.join(',')}] has lower rank than ${describe([x!])}`);
      return [{ dtype: x!.dtype, shape: broadcastShapes('Expand', x!.shape, shape) }];
    },
    emit: (ctx, n) => {
      const x = n.inputs[0]!;
      const out = n.outputs[0]!;
      const lead = out.rank - x.rank;
      // A dim the input already has can be 1 in the target (broadcast keeps it).
      const spec = out.shape.map((d, i) => (typeof d === 'number' ? d : i >= lead && sameDim(x.shape[i - lead]!, d) ? 1 : undefined));
      const shape = spec.every((d) => d !== undefined) ? ctx.int64s(spec as number[]) : ctx.shapeTensor(out.shape);
      ctx.node('Expand', [ctx.name(x), shape], [ctx.name(out)]);
    },
    grad: (g, n, [dy]) => [unbroadcast(g, dy!, n.inputs[0]!.shape)],
  },
  Unsqueeze: {
    arity: 1,
    infer: ([x], { axes }) => {
      const rank = x!.rank + axes.length;
      const norm = axes.map((a) => normalizeAxis('Unsqueeze', a, rank));
      if (new Set(norm).size !== norm.length) throw shapeError(`Unsqueeze: repeated axes [${axes.join(',')}]`);
      const shape: Dim[] = [];
      let j = 0;
      for (let i = 0; i < rank; i++) shape.push(norm.includes(i) ? 1 : x!.shape[j++]!);
      return [{ dtype: x!.dtype, shape }];
    },
    emit: (ctx, n) => ctx.node('Unsqueeze', [ctx.name(n.inputs[0]!), ctx.int64s(n.attrs.axes)], [ctx.name(n.outputs[0]!)]),
    grad: (g, n, [dy]) => [g.squeeze(dy!, n.attrs.axes)],
  },
  Squeeze: {
    arity: 1,
    infer: ([x], { axes }) => {
      const norm = axes.map((a) => normalizeAxis('Squeeze', a, x!.rank));
      for (const a of norm) if (x!.shape[a] !== 1) throw shapeError(`Squeeze: axis ${a} of ${describe([x!])} is not 1`);
      return [{ dtype: x!.dtype, shape: x!.shape.filter((_, i) => !norm.includes(i)) }];
    },
    emit: (ctx, n) => ctx.node('Squeeze', [ctx.name(n.inputs[0]!), ctx.int64s(n.attrs.axes)], [ctx.name(n.outputs[0]!)]),
    grad: (g, n, [dy]) => [g.unsqueeze(dy!, n.attrs.axes)],
  },
  Concat: {
    arity: 'variadic',
    infer: (inputs, { axis }) => {
      if (inputs.length === 0) throw shapeError('Concat: needs at least one input');
      const first = inputs[0]!;
      const ax = normalizeAxis('Concat', axis, first.rank);
      let size: Dim = 0;
      for (const v of inputs) {
        if (v.dtype !== first.dtype || v.rank !== first.rank) throw shapeError(`Concat: inputs differ in dtype or rank: ${describe(inputs)}`);
        v.shape.forEach((d, i) => {
          const f = first.shape[i]!;
          if (i !== ax && typeof d === 'number' && typeof f === 'number' && d !== f) throw shapeError(`Concat: axis ${i} differs in ${describe(inputs)}`);
        });
        const d = v.shape[ax]!;
        size = typeof size === 'number' && typeof d === 'number' ? size + d : size === 0 ? d : `${size}+${d}`;
      }
      const shape = [...first.shape];
      shape[ax] = size;
      return [{ dtype: first.dtype, shape }];
    },
    emit: (ctx, n) => ctx.node('Concat', n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0]!)], { axis: attr.int(n.attrs.axis) }),
    grad: (g, n, [dy]) => {
      const ax = normalizeAxis('Concat', n.attrs.axis, dy!.rank);
      let offset = 0;
      return n.inputs.map((v, i) => {
        const d = v.shape[ax]!;
        const last = i === n.inputs.length - 1;
        if (typeof d !== 'number' && !last) {
          throw graphError(`Concat gradient: input ${i} has symbolic size ${d} on the concat axis; only the last input may`);
        }
        const piece = g.slice(dy!, ax, offset, last ? SLICE_TO_END : offset + (d as number));
        if (typeof d === 'number') offset += d;
        return piece;
      });
    },
  },
  Slice: {
    arity: 1,
    infer: ([x], { axis, start, end }) => {
      const ax = normalizeAxis('Slice', axis, x!.rank);
      const shape = [...x!.shape];
      shape[ax] = sliceDim(x!.shape[ax]!, start, end);
      if (typeof shape[ax] === 'number' && (shape[ax] as number) < 0) throw shapeError(`Slice: empty or negative range [${start}:${end}] on ${describe([x!])}`);
      return [{ dtype: x!.dtype, shape }];
    },
    emit: (ctx, n) => {
      const { axis, start, end } = n.attrs;
      ctx.node('Slice', [ctx.name(n.inputs[0]!), ctx.int64s([start]), ctx.int64s([end]), ctx.int64s([axis])], [ctx.name(n.outputs[0]!)]);
    },
    grad: (g, n, [dy]) => {
      const x = n.inputs[0]!;
      const { axis, start, end } = n.attrs;
      const ax = normalizeAxis('Slice', axis, x.rank);
      const d = x.shape[ax]!;
      const after = typeof d === 'number' ? d - end : end === SLICE_TO_END ? 0 : end < 0 ? -end : undefined;
      if (after === undefined || start < 0) throw graphError(`Slice gradient: cannot size the padding of [${start}:${end}] on symbolic axis '${d}'`);
      return [g.pad(dy!, ax, start, after)];
    },
  },
  Pad: {
    arity: 1,
    infer: ([x], { axis, before, after }) => {
      const ax = normalizeAxis('Pad', axis, x!.rank);
      if (before < 0 || after < 0) throw shapeError(`Pad: negative padding ${before}, ${after}`);
      const shape = [...x!.shape];
      const d = shape[ax]!;
      shape[ax] = typeof d === 'number' ? d + before + after : before + after === 0 ? d : `${d}+${before + after}`;
      return [{ dtype: x!.dtype, shape }];
    },
    emit: (ctx, n) => {
      const x = n.inputs[0]!;
      const pads = new Array<number>(2 * x.rank).fill(0);
      const ax = normalizeAxis('Pad', n.attrs.axis, x.rank);
      pads[ax] = n.attrs.before;
      pads[x.rank + ax] = n.attrs.after;
      ctx.node('Pad', [ctx.name(x), ctx.int64s(pads)], [ctx.name(n.outputs[0]!)]);
    },
    grad: (g, n, [dy]) => {
      const x = n.inputs[0]!;
      const ax = normalizeAxis('Pad', n.attrs.axis, x.rank);
      const { before, after } = n.attrs;
      return [g.slice(dy!, ax, before, after === 0 ? SLICE_TO_END : -after)];
    },
  },
};
