import { broadcastShapes, sameDim } from '../dims';
import { attr, describe, OpDef } from '../op-def';
import { isFloat, shapeError } from '../types';
import { Value } from '../value';
import { unbroadcast } from './grad-util';

function swapLast(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/**
 * Gradients of C = op(A)·op(B) (op = optional transpose of the last two axes), written as
 * matmuls with transpose flags so no transpose is materialised when FusedMatMul is available.
 */
export const MATMUL_OP: OpDef<'MatMul'> = {
  arity: 2,
  infer: (inputs, { transA, transB }) => {
    const [a, b] = inputs as [Value, Value];
    if (a.rank < 2 || b.rank < 2) throw shapeError(`MatMul: operands need rank >= 2 (reshape vectors explicitly), got ${describe(inputs)}`);
    if (a.dtype !== b.dtype || !isFloat(a.dtype)) throw shapeError(`MatMul: operands must share a float dtype, got ${describe(inputs)}`);
    const m = transA ? a.shape[a.rank - 1]! : a.shape[a.rank - 2]!;
    const ka = transA ? a.shape[a.rank - 2]! : a.shape[a.rank - 1]!;
    const kb = transB ? b.shape[b.rank - 1]! : b.shape[b.rank - 2]!;
    const n = transB ? b.shape[b.rank - 2]! : b.shape[b.rank - 1]!;
    if (!sameDim(ka, kb) && typeof ka === 'number' && typeof kb === 'number') {
      throw shapeError(`MatMul: inner dims differ (${ka} vs ${kb}) for ${describe(inputs)} transA=${transA} transB=${transB}`);
    }
    const batch = broadcastShapes('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ dtype: a.dtype, shape: [...batch, m, n] }];
  },
  emit: (ctx, n) => {
    const [a, b] = n.inputs as [Value, Value];
    const { transA, transB } = n.attrs;
    const out = ctx.name(n.outputs[0]!);
    if (!transA && !transB) {
      ctx.node('MatMul', [ctx.name(a), ctx.name(b)], [out]);
    } else if (ctx.fusedMatMul && a.dtype === 'float32') {
      ctx.node('FusedMatMul', [ctx.name(a), ctx.name(b)], [out], { transA: attr.int(transA ? 1 : 0), transB: attr.int(transB ? 1 : 0), alpha: attr.float(1) }, 'com.microsoft');
    } else {
      const operand = (v: Value, trans: boolean): string => {
        if (!trans) return ctx.name(v);
        const t = ctx.temp('t');
        ctx.node('Transpose', [ctx.name(v)], [t], { perm: attr.ints(swapLast(v.rank)) });
        return t;
      };
      ctx.node('MatMul', [operand(a, transA), operand(b, transB)], [out]);
    }
  },
  grad: (g, n, [dy], needs) => {
    const [a, b] = n.inputs as [Value, Value];
    const { transA, transB } = n.attrs;
    const grad = dy!;
    // A weight shared by every row (B of rank 2 under a batched A): fold the batch axes into
    // the rows so dB is one large GEMM instead of a batched one followed by a sum.
    if (b.rank === 2 && a.rank > 2 && !transA) {
      const k = a.shape[a.rank - 1]!;
      const nOut = grad.shape[grad.rank - 1]!;
      let db: Value | undefined;
      if (needs[1]) {
        const a2 = g.reshape(a, [-1, k]);
        const g2 = g.reshape(grad, [-1, nOut]);
        db = transB ? g.matmul(g2, a2, { transA: true }) : g.matmul(a2, g2, { transA: true });
      }
      const da = needs[0] ? g.matmul(grad, b, { transB: !transB }) : undefined;
      return [da, db];
    }
    // C = op(A)·op(B); each gradient is one matmul with transpose flags.
    const dA = (): Value => {
      if (!transA) return g.matmul(grad, b, { transB: !transB });
      return transB ? g.matmul(b, grad, { transA: true, transB: true }) : g.matmul(b, grad, { transB: true });
    };
    const dB = (): Value => {
      if (!transB) return g.matmul(a, grad, { transA: !transA });
      return transA ? g.matmul(grad, a, { transA: true, transB: true }) : g.matmul(grad, a, { transA: true });
    };
    return [needs[0] ? unbroadcast(g, dA(), a.shape) : undefined, needs[1] ? unbroadcast(g, dB(), b.shape) : undefined];
  },
};
