import { broadcastShapes } from '../dims';
import { attr, describe, EmitContext, GradRule, ONNX_DTYPE_CODE, OpDef, OutputSpec } from '../op-def';
import { isFloat, shapeError } from '../types';
import { Node, Value } from '../value';
import { unbroadcast } from './grad-util';

type BinaryOp = 'Add' | 'Sub' | 'Mul' | 'Div' | 'Max' | 'Min';
type CompareOp = 'Equal' | 'Less' | 'Greater';
type UnaryOp = 'Neg' | 'Exp' | 'Log' | 'Sqrt' | 'Sigmoid' | 'Tanh' | 'Relu' | 'Cos' | 'Sin';

function inferBinary(op: string, inputs: readonly Value[], outDtype?: OutputSpec['dtype']): OutputSpec[] {
  const [a, b] = inputs as [Value, Value];
  if (a.dtype !== b.dtype) throw shapeError(`${op}: operand dtypes differ (${describe(inputs)}); cast one explicitly`);
  return [{ dtype: outDtype ?? a.dtype, shape: broadcastShapes(op, a.shape, b.shape) }];
}

/** Emits the ONNX op of the same name with the node's inputs and outputs unchanged. */
function emitSame(onnxOp: string) {
  return (ctx: EmitContext, node: Node): void => {
    ctx.node(onnxOp, node.inputs.map((v) => ctx.name(v)), node.outputs.map((v) => ctx.name(v)));
  };
}

function binary<K extends BinaryOp>(op: K, grad: GradRule<K>): OpDef<K> {
  return { arity: 2, infer: (inputs) => inferBinary(op, inputs), emit: emitSame(op), grad };
}

function compare<K extends CompareOp>(op: K): OpDef<K> {
  return { arity: 2, infer: (inputs) => inferBinary(op, inputs, 'bool'), emit: emitSame(op) };
}

function unary<K extends UnaryOp>(op: K, grad: GradRule<K>): OpDef<K> {
  return {
    arity: 1,
    infer: ([x]) => {
      if (!isFloat(x!.dtype) && op !== 'Neg' && op !== 'Relu') throw shapeError(`${op}: needs a float input, got ${describe([x!])}`);
      return [{ dtype: x!.dtype, shape: [...x!.shape] }];
    },
    emit: emitSame(op),
    grad,
  };
}

/** Gradient routed to whichever operand was selected; ties split evenly so the rule is symmetric. */
function selectGrad(g: Parameters<GradRule<'Max'>>[0], node: Node<'Max' | 'Min'>, dy: Value, needs: readonly boolean[]): (Value | undefined)[] {
  const [a, b] = node.inputs as [Value, Value];
  const aWins = node.op === 'Max' ? g.greater(a, b) : g.less(a, b);
  const tie = g.equal(a, b);
  const zero = g.zerosLike(dy);
  const half = g.mul(dy, 0.5);
  const da = g.where(aWins, dy, g.where(tie, half, zero));
  const db = g.where(aWins, zero, g.where(tie, half, dy));
  return [needs[0] ? unbroadcast(g, da, a.shape) : undefined, needs[1] ? unbroadcast(g, db, b.shape) : undefined];
}

export const ELEMENTWISE_OPS: { [K in BinaryOp | CompareOp | UnaryOp | 'Sum' | 'Where' | 'Pow' | 'Cast']: OpDef<K> } = {
  Sum: {
    arity: 'variadic',
    infer: (inputs) => {
      if (inputs.length === 0) throw shapeError('Sum: needs at least one operand');
      const first = inputs[0]!;
      if (inputs.some((v) => v.dtype !== first.dtype) || !isFloat(first.dtype)) throw shapeError(`Sum: operands must share a float dtype, got ${describe(inputs)}`);
      return [{ dtype: first.dtype, shape: [...inputs.map((v) => v.shape).reduce((a, b) => broadcastShapes('Sum', a, b))] }];
    },
    emit: emitSame('Sum'),
    grad: (g, n, [dy], needs) => n.inputs.map((v, i) => (needs[i] ? unbroadcast(g, dy!, v.shape) : undefined)),
  },
  Add: binary('Add', (g, n, [dy], needs) => [
    needs[0] ? unbroadcast(g, dy!, n.inputs[0]!.shape) : undefined,
    needs[1] ? unbroadcast(g, dy!, n.inputs[1]!.shape) : undefined,
  ]),
  Sub: binary('Sub', (g, n, [dy], needs) => [
    needs[0] ? unbroadcast(g, dy!, n.inputs[0]!.shape) : undefined,
    needs[1] ? unbroadcast(g, g.neg(dy!), n.inputs[1]!.shape) : undefined,
  ]),
  Mul: binary('Mul', (g, n, [dy], needs) => {
    const [a, b] = n.inputs as [Value, Value];
    return [needs[0] ? unbroadcast(g, g.mul(dy!, b), a.shape) : undefined, needs[1] ? unbroadcast(g, g.mul(dy!, a), b.shape) : undefined];
  }),
  Div: binary('Div', (g, n, [dy], needs) => {
    const [a, b] = n.inputs as [Value, Value];
    const y = n.outputs[0]!;
    // d(a/b)/db = -y/b, which reuses the forward output instead of squaring b. b is constant
    // along the axes it was broadcast over, so the sum over them comes before dividing by b:
    // for RMSNorm's [.., 1] denominator the negation and division then run on [.., 1], not [.., n].
    return [
      needs[0] ? unbroadcast(g, g.div(dy!, b), a.shape) : undefined,
      needs[1] ? g.neg(g.div(unbroadcast(g, g.mul(dy!, y), b.shape), b)) : undefined,
    ];
  }),
  Max: binary('Max', (g, n, [dy], needs) => selectGrad(g, n, dy!, needs)),
  Min: binary('Min', (g, n, [dy], needs) => selectGrad(g, n, dy!, needs)),
  Equal: compare('Equal'),
  Less: compare('Less'),
  Greater: compare('Greater'),
  Where: {
    arity: 3,
    infer: (inputs) => {
      const [c, a, b] = inputs as [Value, Value, Value];
      if (c.dtype !== 'bool') throw shapeError(`Where: condition must be bool, got ${describe([c])}`);
      const [ab] = inferBinary('Where', [a, b]);
      return [{ dtype: a.dtype, shape: broadcastShapes('Where', c.shape, ab!.shape) }];
    },
    emit: emitSame('Where'),
    grad: (g, n, [dy], needs) => {
      const [c, a, b] = n.inputs as [Value, Value, Value];
      const zero = g.zerosLike(dy!);
      return [
        undefined,
        needs[1] ? unbroadcast(g, g.where(c, dy!, zero), a.shape) : undefined,
        needs[2] ? unbroadcast(g, g.where(c, zero, dy!), b.shape) : undefined,
      ];
    },
  },
  Neg: unary('Neg', (g, _n, [dy]) => [g.neg(dy!)]),
  Exp: unary('Exp', (g, n, [dy]) => [g.mul(dy!, n.outputs[0]!)]),
  Log: unary('Log', (g, n, [dy]) => [g.div(dy!, n.inputs[0]!)]),
  Sqrt: unary('Sqrt', (g, n, [dy]) => [g.div(g.mul(dy!, 0.5), n.outputs[0]!)]),
  Sigmoid: unary('Sigmoid', (g, n, [dy]) => {
    const y = n.outputs[0]!;
    return [g.mul(dy!, g.mul(y, g.sub(1, y)))];
  }),
  Tanh: unary('Tanh', (g, n, [dy]) => {
    const y = n.outputs[0]!;
    return [g.mul(dy!, g.sub(1, g.mul(y, y)))];
  }),
  Relu: unary('Relu', (g, n, [dy]) => [g.where(g.greater(n.inputs[0]!, 0), dy!, g.zerosLike(dy!))]),
  Cos: unary('Cos', (g, n, [dy]) => [g.neg(g.mul(dy!, g.sin(n.inputs[0]!)))]),
  Sin: unary('Sin', (g, n, [dy]) => [g.mul(dy!, g.cos(n.inputs[0]!))]),
  Pow: {
    arity: 1,
    infer: ([x], { exponent }) => {
      if (!isFloat(x!.dtype)) throw shapeError(`Pow: needs a float input, got ${describe([x!])}`);
      if (!Number.isFinite(exponent)) throw shapeError(`Pow: exponent must be finite, got ${exponent}`);
      return [{ dtype: x!.dtype, shape: [...x!.shape] }];
    },
    emit: (ctx, n) => {
      const x = n.inputs[0]!;
      ctx.node('Pow', [ctx.name(x), ctx.scalar(n.attrs.exponent, x.dtype)], [ctx.name(n.outputs[0]!)]);
    },
    grad: (g, n, [dy]) => {
      const p = n.attrs.exponent;
      const x = n.inputs[0]!;
      if (p === 0) return [g.zerosLike(x)];
      const deriv = p === 1 ? g.fill(x.shape, 1, x.dtype) : p === 2 ? g.mul(x, 2) : g.mul(g.pow(x, p - 1), p);
      return [g.mul(dy!, deriv)];
    },
  },
  Cast: {
    arity: 1,
    infer: ([x], { to }) => [{ dtype: to, shape: [...x!.shape] }],
    emit: (ctx, n) => ctx.node('Cast', [ctx.name(n.inputs[0]!)], [ctx.name(n.outputs[0]!)], { to: attr.int(ONNX_DTYPE_CODE[n.attrs.to]) }),
    // Only float-to-float casts carry a gradient (back to the input's precision).
    grad: (g, n, [dy]) => {
      const x = n.inputs[0]!;
      return [isFloat(x.dtype) && isFloat(n.attrs.to) ? g.cast(dy!, x.dtype) : undefined];
    },
  },
};

