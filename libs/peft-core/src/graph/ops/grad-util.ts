import type { Graph } from '../graph';
import { Shape } from '../types';
import { Value } from '../value';

/**
 * Sums a gradient back to the shape of an operand that was broadcast: over the leading axes
 * the operand lacked, and over the axes where it had size 1.
 */
export function unbroadcast(g: Graph, grad: Value, target: Shape): Value {
  const lead = grad.rank - target.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) {
    if (i < lead || (target[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return grad;
  const summed = g.reduceSum(grad, axes, true);
  if (lead === 0) return summed;
  return g.squeeze(summed, Array.from({ length: lead }, (_, i) => i));
}

/** Re-inserts reduced axes (kept as size 1) so a reduction's gradient broadcasts against its input. */
export function keepReducedAxes(g: Graph, grad: Value, axes: readonly number[], keepdims: boolean): Value {
  return keepdims ? grad : g.unsqueeze(grad, [...axes].sort((a, b) => a - b));
}
