import { normalizeAxis } from '../dims';
import { attr, describe, OpDef } from '../op-def';
import { Dim, isFloat, shapeError } from '../types';
import { Node, Value } from '../value';
import type { Graph } from '../graph';
import { keepReducedAxes } from './grad-util';

type ReduceOp = 'ReduceSum' | 'ReduceMax' | 'ReduceMean';

function reduce<K extends ReduceOp>(op: K, grad: NonNullable<OpDef<K>['grad']>): OpDef<K> {
  return {
    arity: 1,
    infer: ([x], { axes, keepdims }) => {
      const norm = axes.map((a) => normalizeAxis(op, a, x!.rank));
      if (new Set(norm).size !== norm.length) throw shapeError(`${op}: repeated axes [${axes.join(',')}] on ${describe([x!])}`);
      if (op !== 'ReduceMax' && !isFloat(x!.dtype)) throw shapeError(`${op}: needs a float input, got ${describe([x!])}`);
      const shape: Dim[] = [];
      x!.shape.forEach((d, i) => {
        if (!norm.includes(i)) shape.push(d);
        else if (keepdims) shape.push(1);
      });
      return [{ dtype: x!.dtype, shape }];
    },
    emit: (ctx, n) =>
      ctx.node(op, [ctx.name(n.inputs[0]!), ctx.int64s(n.attrs.axes)], [ctx.name(n.outputs[0]!)], { keepdims: attr.int(n.attrs.keepdims ? 1 : 0) }),
    grad,
  };
}

/** The number of elements each output of a reduction summed, as a constant when the axes are fixed. */
function reducedCount(g: Graph, x: Value, axes: readonly number[]): Value | number {
  let count = 1;
  for (const a of axes) {
    const d = x.shape[a]!;
    if (typeof d !== 'number') return g.reduceSum(g.fill(x.shape, 1, x.dtype), axes, true);
    count *= d;
  }
  return count;
}

function expandedGrad(g: Graph, n: Node<ReduceOp>, dy: Value): Value {
  const x = n.inputs[0]!;
  return g.expand(keepReducedAxes(g, dy, n.attrs.axes, n.attrs.keepdims), [...x.shape]);
}

function softmaxLike<K extends 'Softmax' | 'LogSoftmax'>(op: K, grad: NonNullable<OpDef<K>['grad']>): OpDef<K> {
  return {
    arity: 1,
    infer: ([x], { axis }) => {
      normalizeAxis(op, axis, x!.rank);
      if (!isFloat(x!.dtype)) throw shapeError(`${op}: needs a float input, got ${describe([x!])}`);
      return [{ dtype: x!.dtype, shape: [...x!.shape] }];
    },
    emit: (ctx, n) => ctx.node(op, [ctx.name(n.inputs[0]!)], [ctx.name(n.outputs[0]!)], { axis: attr.int(n.attrs.axis) }),
    grad,
  };
}

export const REDUCE_OPS: { [K in ReduceOp | 'Softmax' | 'LogSoftmax' | 'TopK']: OpDef<K> } = {
  ReduceSum: reduce('ReduceSum', (g, n, [dy]) => [expandedGrad(g, n, dy!)]),
  ReduceMean: reduce('ReduceMean', (g, n, [dy]) => [g.div(expandedGrad(g, n, dy!), reducedCount(g, n.inputs[0]!, n.attrs.axes))]),
  ReduceMax: reduce('ReduceMax', (g, n, [dy]) => {
    // Ties share the gradient equally, so the rule stays a valid subgradient.
    const x = n.inputs[0]!;
    const yk = keepReducedAxes(g, n.outputs[0]!, n.attrs.axes, n.attrs.keepdims);
    const mask = g.cast(g.equal(x, yk), x.dtype);
    const count = g.reduceSum(mask, n.attrs.axes, true);
    const dyk = keepReducedAxes(g, dy!, n.attrs.axes, n.attrs.keepdims);
    return [g.mul(mask, g.div(dyk, count))];
  }),
  Softmax: softmaxLike('Softmax', (g, n, [dy]) => {
    const y = n.outputs[0]!;
    const dot = g.reduceSum(g.mul(dy!, y), [n.attrs.axis], true);
    return [g.mul(y, g.sub(dy!, dot))];
  }),
  LogSoftmax: softmaxLike('LogSoftmax', (g, n, [dy]) => {
    const y = n.outputs[0]!;
    const total = g.reduceSum(dy!, [n.attrs.axis], true);
    return [g.sub(dy!, g.mul(g.exp(y), total))];
  }),
  TopK: {
    arity: 1,
    infer: ([x], { k, axis }) => {
      const ax = normalizeAxis('TopK', axis, x!.rank);
      const d = x!.shape[ax]!;
      if (!Number.isInteger(k) || k < 1 || (typeof d === 'number' && k > d)) throw shapeError(`TopK: k=${k} is out of range for ${describe([x!])} axis ${axis}`);
      const shape = [...x!.shape];
      shape[ax] = k;
      return [
        { dtype: x!.dtype, shape },
        { dtype: 'int64', shape: [...shape] },
      ];
    },
    emit: (ctx, n) =>
      ctx.node('TopK', [ctx.name(n.inputs[0]!), ctx.int64s([n.attrs.k])], n.outputs.map((v) => ctx.name(v)), {
        axis: attr.int(n.attrs.axis),
        largest: attr.int(n.attrs.largest ? 1 : 0),
        sorted: attr.int(1),
      }),
    // Only the values carry a gradient: it flows back to the positions they were taken from.
    grad: (g, n, [dValues]) => {
      if (!dValues) return [undefined];
      const x = n.inputs[0]!;
      return [g.scatterElementsAdd(g.zerosLike(x), n.outputs[1]!, dValues, n.attrs.axis)];
    },
  },
};
