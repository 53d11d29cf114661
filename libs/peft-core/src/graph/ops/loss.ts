import { sameDim } from '../dims';
import { attr, describe, ONNX_DTYPE_CODE, OpDef } from '../op-def';
import { isFloat, isInteger, shapeError } from '../types';
import { Value } from '../value';

/**
 * Per-row softmax cross-entropy of logits [N, C] against class indices [N] (as ONNX
 * SoftmaxCrossEntropyLoss with reduction 'none'): loss[n] = −log softmax(logits[n])[t[n]], 0 where
 * t[n] = ignoreIndex; second output the log-probabilities [N, C].
 *
 * A primitive (not LogSoftmax → GatherElements) because of its gradient: composed, the backward
 * over the vocabulary is a zero fill, a scatter into it, a row sum, exp, a product and a
 * difference, all [N, C]; fused it is d logits = (softmax − onehot(t)) · dloss: one exp, one
 * product and one in-place scatter. With vocabularies of 10⁴–10⁵ these [N, C] passes are a
 * visible share of a LoRA step.
 */
export const LOSS_OPS: { SoftmaxCrossEntropy: OpDef<'SoftmaxCrossEntropy'> } = {
  SoftmaxCrossEntropy: {
    arity: 2,
    infer: ([logits, targets]) => {
      const x = logits!;
      const t = targets!;
      if (x.rank !== 2 || !isFloat(x.dtype)) throw shapeError(`SoftmaxCrossEntropy: logits must be float [N, C], got ${describe([x])}`);
      if (t.rank !== 1 || !isInteger(t.dtype)) throw shapeError(`SoftmaxCrossEntropy: targets must be int64/int32 [N], got ${describe([t])}`);
      if (!sameDim(x.shape[0]!, t.shape[0]!) && typeof x.shape[0] === 'number' && typeof t.shape[0] === 'number') {
        throw shapeError(`SoftmaxCrossEntropy: ${describe([x, t])} disagree on N`);
      }
      return [
        { dtype: x.dtype, shape: [x.shape[0]!] },
        { dtype: x.dtype, shape: [...x.shape] },
      ];
    },
    // Emitted as LogSoftmax over the last axis + a gather rather than ONNX SoftmaxCrossEntropyLoss:
    // onnxruntime expands the latter to a LogSoftmax over axis 1 of [N, C, 1], measured ~1.5×
    // slower on [512, 8192].
    emit: (ctx, n) => {
      const [logits, targets] = n.inputs as [Value, Value];
      const [loss, logProb] = n.outputs as [Value, Value];
      let t = ctx.name(targets);
      if (targets.dtype !== 'int64') {
        t = ctx.temp('t64');
        ctx.node('Cast', [ctx.name(targets)], [t], { to: attr.int(ONNX_DTYPE_CODE.int64) });
      }
      const ignored = ctx.temp('ignored');
      const safe = ctx.temp('safe');
      const column = ctx.temp('column');
      const picked = ctx.temp('picked');
      const pickedRow = ctx.temp('picked_row');
      const nll = ctx.temp('nll');
      ctx.node('LogSoftmax', [ctx.name(logits)], [ctx.name(logProb)], { axis: attr.int(1) });
      ctx.node('Equal', [t, ctx.scalar(n.attrs.ignoreIndex, 'int64')], [ignored]);
      ctx.node('Where', [ignored, ctx.scalar(0, 'int64'), t], [safe]);
      ctx.node('Unsqueeze', [safe, ctx.int64s([1])], [column]);
      ctx.node('GatherElements', [ctx.name(logProb), column], [picked], { axis: attr.int(1) });
      ctx.node('Squeeze', [picked, ctx.int64s([1])], [pickedRow]);
      ctx.node('Neg', [pickedRow], [nll]);
      ctx.node('Where', [ignored, ctx.scalar(0, logits.dtype), nll], [ctx.name(loss)]);
    },
    grad: (g, n, [dLoss, dLogProb]) => {
      const [logits, targets] = n.inputs as [Value, Value];
      const logProb = n.outputs[1]!;
      const probs = g.exp(logProb);
      let dLogits: Value | undefined;
      if (dLoss) {
        // Ignored rows get no gradient; their (arbitrary) scatter index 0 receives −0.
        const ignored = g.equal(targets, n.attrs.ignoreIndex);
        const w = g.where(ignored, g.zerosLike(dLoss), dLoss); // [N]
        const safeTargets = g.unsqueeze(g.where(ignored, g.scalar(0, targets.dtype), targets), [1]); // [N, 1]
        const scaled = g.mul(probs, g.unsqueeze(w, [1]));
        dLogits = g.scatterElementsAdd(scaled, safeTargets, g.unsqueeze(g.neg(w), [1]), 1);
      }
      if (dLogProb) {
        // The LogSoftmax rule for the second output: d − softmax · Σ d.
        const viaLogProb = g.sub(dLogProb, g.mul(probs, g.reduceSum(dLogProb, [1], true)));
        dLogits = dLogits ? g.add(dLogits, viaLogProb) : viaLogProb;
      }
      return [dLogits ?? g.zerosLike(logits), undefined];
    },
  },
};
