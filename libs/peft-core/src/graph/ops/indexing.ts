import { normalizeAxis } from '../dims';
import { attr, describe, OpDef } from '../op-def';
import { graphError, isInteger, shapeError } from '../types';
import { Value } from '../value';

function checkIndices(op: string, idx: Value): void {
  if (!isInteger(idx.dtype)) throw shapeError(`${op}: indices must be int64 or int32, got ${describe([idx])}`);
}

/** ONNX scatter ops take int64 indices only; int32 ones are widened at emission. */
function int64Name(ctx: Parameters<OpDef<'ScatterAdd'>['emit']>[0], idx: Value): string {
  if (idx.dtype === 'int64') return ctx.name(idx);
  const t = ctx.temp('idx64');
  ctx.node('Cast', [ctx.name(idx)], [t], { to: attr.int(7) });
  return t;
}

export const INDEXING_OPS: { [K in 'Gather' | 'GatherElements' | 'ScatterAdd' | 'ScatterElementsAdd']: OpDef<K> } = {
  Gather: {
    arity: 2,
    infer: ([data, idx], { axis }) => {
      checkIndices('Gather', idx!);
      const ax = normalizeAxis('Gather', axis, data!.rank);
      return [{ dtype: data!.dtype, shape: [...data!.shape.slice(0, ax), ...idx!.shape, ...data!.shape.slice(ax + 1)] }];
    },
    emit: (ctx, n) => ctx.node('Gather', n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0]!)], { axis: attr.int(n.attrs.axis) }),
    grad: (g, n, [dy]) => {
      const [data, idx] = n.inputs as [Value, Value];
      if (normalizeAxis('Gather', n.attrs.axis, data.rank) !== 0) {
        throw graphError(`Gather gradient: only axis 0 is differentiable w.r.t. data (got axis ${n.attrs.axis}); transpose the gathered axis to the front`);
      }
      return [g.scatterAdd(g.zerosLike(data), idx, dy!), undefined];
    },
  },
  GatherElements: {
    arity: 2,
    infer: ([data, idx], { axis }) => {
      checkIndices('GatherElements', idx!);
      normalizeAxis('GatherElements', axis, data!.rank);
      if (idx!.rank !== data!.rank) throw shapeError(`GatherElements: indices rank must equal data rank: ${describe([data!, idx!])}`);
      return [{ dtype: data!.dtype, shape: [...idx!.shape] }];
    },
    emit: (ctx, n) => ctx.node('GatherElements', n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0]!)], { axis: attr.int(n.attrs.axis) }),
    grad: (g, n, [dy]) => {
      const [data, idx] = n.inputs as [Value, Value];
      return [g.scatterElementsAdd(g.zerosLike(data), idx, dy!, n.attrs.axis), undefined];
    },
  },
  ScatterAdd: {
    arity: 3,
    infer: ([data, idx, updates]) => {
      checkIndices('ScatterAdd', idx!);
      const want = [...idx!.shape, ...data!.shape.slice(1)];
      if (updates!.dtype !== data!.dtype || updates!.rank !== want.length) {
        throw shapeError(`ScatterAdd: updates must be ${data!.dtype}[${want.join(',')}], got ${describe([updates!])}`);
      }
      return [{ dtype: data!.dtype, shape: [...data!.shape] }];
    },
    emit: (ctx, n) => {
      const [data, idx, updates] = n.inputs as [Value, Value, Value];
      const rows = ctx.temp('rows');
      ctx.node('Unsqueeze', [int64Name(ctx, idx), ctx.int64s([-1])], [rows]);
      ctx.node('ScatterND', [ctx.name(data), rows, ctx.name(updates)], [ctx.name(n.outputs[0]!)], { reduction: attr.string('add') });
    },
    grad: (g, n, [dy]) => {
      const idx = n.inputs[1]!;
      return [dy!, undefined, g.gather(dy!, idx, 0)];
    },
  },
  ScatterElementsAdd: {
    arity: 3,
    infer: ([data, idx, updates], { axis }) => {
      checkIndices('ScatterElementsAdd', idx!);
      normalizeAxis('ScatterElementsAdd', axis, data!.rank);
      if (idx!.rank !== data!.rank || updates!.rank !== data!.rank || updates!.dtype !== data!.dtype) {
        throw shapeError(`ScatterElementsAdd: data, indices and updates must share a rank: ${describe([data!, idx!, updates!])}`);
      }
      return [{ dtype: data!.dtype, shape: [...data!.shape] }];
    },
    emit: (ctx, n) => {
      const [data, idx, updates] = n.inputs as [Value, Value, Value];
      ctx.node('ScatterElements', [ctx.name(data), int64Name(ctx, idx), ctx.name(updates)], [ctx.name(n.outputs[0]!)], {
        axis: attr.int(n.attrs.axis),
        reduction: attr.string('add'),
      });
    },
    grad: (g, n, [dy]) => {
      const idx = n.inputs[1]!;
      return [dy!, undefined, g.gatherElements(dy!, idx, n.attrs.axis)];
    },
  },
};
