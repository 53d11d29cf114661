/**
 * The causal-LM objective, built in the graph so autodiff differentiates it with the model.
 */
import type { Graph } from '../graph/graph';
import { crossEntropy } from '../graph/nn';
import { shapeError } from '../graph/types';
import type { Value } from '../graph/value';
import { IGNORE_INDEX } from './data';

/**
 * Mean next-token cross-entropy: logits [batch, seq, vocab] against targets [batch, seq] that are
 * already shifted (targets[b, t] is the token after position t, or IGNORE_INDEX for prompt tokens,
 * padding and the last position; see data.ts). The mean is over unmasked targets only, so prompt
 * masking and padding do not dilute the loss; a batch without targets gives 0.
 */
export function causalLmLoss(g: Graph, logits: Value, targets: Value): Value {
  if (logits.rank !== 3 || targets.rank !== 2) {
    throw shapeError(`causalLmLoss: expects logits [batch, seq, vocab] and targets [batch, seq], got ranks ${logits.rank} and ${targets.rank}`);
  }
  return crossEntropy(g, logits, targets, { ignoreIndex: IGNORE_INDEX });
}
