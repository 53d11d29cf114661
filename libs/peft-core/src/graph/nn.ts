/**
 * Derived layers built from primitives only, so they are differentiated by the primitives'
 * rules. Conventions follow Hugging Face Llama: linear weights are [out, in].
 */
import type { Graph } from './graph';
import { graphError, shapeError } from './types';
import { Value } from './value';

/** y = x·Wᵀ (+ b) for a weight in [out, in] layout. */
export function linear(g: Graph, x: Value, weight: Value, bias?: Value): Value {
  const y = g.matmul(x, weight, { transB: true });
  return bias ? g.add(y, bias) : y;
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · weight. */
export function rmsNorm(g: Graph, x: Value, weight: Value, eps: number): Value {
  const meanSquare = g.reduceMean(g.pow(x, 2), [-1], true);
  return g.mul(g.div(x, g.sqrt(g.add(meanSquare, eps))), weight);
}

/** x · sigmoid(x). */
export function silu(g: Graph, x: Value): Value {
  return g.mul(x, g.sigmoid(x));
}

/** The SwiGLU MLP core: silu(gate) ⊙ up. */
export function swiglu(g: Graph, gate: Value, up: Value): Value {
  return g.mul(silu(g, gate), up);
}

/** [x1, x2] → [-x2, x1] over the last axis (the Hugging Face RoPE convention). */
export function rotateHalf(g: Graph, x: Value): Value {
  const d = x.shape[x.rank - 1];
  if (typeof d !== 'number' || d % 2 !== 0) throw shapeError(`rotateHalf: last dim must be a fixed even size, got ${d}`);
  const x1 = g.slice(x, -1, 0, d / 2);
  const x2 = g.slice(x, -1, d / 2, d);
  return g.concat([g.neg(x2), x1], -1);
}

/** Rotary embedding: x·cos + rotateHalf(x)·sin, with cos/sin broadcasting against x. */
export function applyRope(g: Graph, x: Value, cos: Value, sin: Value): Value {
  return g.add(g.mul(x, cos), g.mul(rotateHalf(g, x), sin));
}

/** Grouped-query attention: repeats each of the kv heads (axis 1) `groups` times. */
export function repeatKv(g: Graph, x: Value, groups: number): Value {
  if (groups === 1) return x;
  if (x.rank !== 4) throw shapeError(`repeatKv: expects [batch, kvHeads, seq, headDim], got rank ${x.rank}`);
  const [b, h, s, d] = x.shape as [string | number, string | number, string | number, string | number];
  if (typeof h !== 'number') throw shapeError('repeatKv: the kv head count must be fixed');
  const expanded = g.expand(g.unsqueeze(x, [2]), [b, h, groups, s, d]);
  return g.reshape(expanded, [b, h * groups, s, d]);
}

export interface AttentionOptions {
  /** Added to the scores before softmax (0 where allowed, a large negative where masked). */
  mask?: Value;
  /** Score scale; default 1/sqrt(headDim). */
  scale?: number;
}

/** softmax(q·kᵀ·scale + mask)·v over [batch, heads, seq, headDim] tensors. */
export function attention(g: Graph, q: Value, k: Value, v: Value, options: AttentionOptions = {}): Value {
  const headDim = q.shape[q.rank - 1];
  if (typeof headDim !== 'number') throw shapeError('attention: head dim must be fixed');
  const scale = options.scale ?? 1 / Math.sqrt(headDim);
  let scores = g.mul(g.matmul(q, k, { transB: true }), scale);
  if (options.mask) scores = g.add(scores, options.mask);
  return g.matmul(g.softmax(scores, -1), v);
}

export interface CrossEntropyOptions {
  /** Targets equal to this are ignored (prompt tokens, padding); default -100 as in Hugging Face. */
  ignoreIndex?: number;
}

/**
 * Mean token cross-entropy of logits [..., vocab] against integer targets [...], skipping
 * ignored targets. Returns a scalar; 0 when every target is ignored.
 */
export function crossEntropy(g: Graph, logits: Value, targets: Value, options: CrossEntropyOptions = {}): Value {
  if (targets.rank !== logits.rank - 1) throw shapeError(`crossEntropy: targets must have rank ${logits.rank - 1}, got ${targets.rank}`);
  if (targets.dtype !== 'int64' && targets.dtype !== 'int32') throw graphError(`crossEntropy: targets must be int64 or int32, got ${targets.dtype}`);
  const ignoreIndex = options.ignoreIndex ?? -100;
  const classes = logits.shape[logits.rank - 1]!;
  // One fused primitive over [tokens, classes] (its gradient is softmax − onehot; see ops/loss.ts).
  const rows = logits.rank === 2 ? logits : g.reshape(logits, [-1, classes]);
  const rowTargets = targets.rank === 1 ? targets : g.reshape(targets, [-1]);
  const { loss } = g.softmaxCrossEntropy(rows, rowTargets, ignoreIndex);
  const valid = g.where(g.equal(targets, ignoreIndex), g.scalar(0, logits.dtype), g.scalar(1, logits.dtype));
  const axes = Array.from({ length: targets.rank }, (_, i) => i);
  const count = g.max(g.reduceSum(valid, axes), 1);
  return g.div(g.reduceSum(loss, [0]), count);
}
