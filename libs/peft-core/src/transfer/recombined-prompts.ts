/**
 * Negatives for the companion discriminator that have the real prompts' form but not their
 * content: the varying middles of two real prompts (what lies between the start and the end all
 * prompts share) joined into one, with or without a space, inside the shared start and end.
 *
 * Why: the source model's own synthetic prompts are the paper's negatives, but a base that was never
 * trained on question text writes junk without the prompt end, so a discriminator trained on them
 * judges the form and accepts every well-formed candidate (eval:transfer: 99.9 % of a target's
 * parity candidates, most of them two numbers where the task has one). Joined middles are well
 * formed, longer than real ones and hold two items where real ones hold one: what a target base
 * that knows only the prompt start tends to write.
 */
import type { Rng } from '../util/rng';
import { promptEndOf, promptStartOf } from './synthetic-prompts';

/** Up to `n` distinct recombinations of `real` (fewer when the prompts allow fewer); none equals a real prompt. */
export function recombinedPrompts(real: readonly string[], n: number, rng: Rng): string[] {
  if (real.length < 2 || n < 1) return [];
  const start = promptStartOf(real) ?? '';
  const end = promptEndOf(real) ?? '';
  const middles = real.map((p) => p.slice(start.length, p.length - end.length).trim()).filter((m) => m.length > 0);
  if (middles.length < 2) return [];
  const seen = new Set(real.map((p) => p.trim()));
  const out: string[] = [];
  for (let tries = 0; out.length < n && tries < 4 * n; tries++) {
    const i = rng.int(middles.length);
    const j = (i + 1 + rng.int(middles.length - 1)) % middles.length;
    const prompt = `${start}${middles[i]!}${rng.uniform() < 0.5 ? ' ' : ''}${middles[j]!}${end}`.trim();
    if (seen.has(prompt)) continue;
    seen.add(prompt);
    out.push(prompt);
  }
  return out;
}
