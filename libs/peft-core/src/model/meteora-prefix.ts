/**
 * The host side of MeteoRA's prefix gate [extension, not in the paper]: the 0/1 token-set
 * feature p [rows, seq, V] that every gate adds as W_p p (meteora-wiring's `prefix`).
 *
 * Two scopes:
 * - sequence: position t sees the tokens of the prompt and of every position ≤ t. Prompt
 *   positions see the whole prompt: a router is handed it at once, so the gates of "Q: " know the
 *   task marker that follows (causal gates cannot, and the K/V they give those positions differ
 *   from the task expert's own).
 * - line: the prompt's lines but the last are questions; position t sees the tokens of ONE
 *   question line: a prompt position its own line's, and an answer position the question line
 *   whose number is the answer line's (answer line 1 starts at the prompt's last line, "A:"). A
 *   line break belongs to the line it ends, in the prompt and in the answer: the expert reading a
 *   question finds its input's end computed by itself, as in training, and the expert that ends an
 *   answer line also writes the next line's number (the list rows of WorldLoraRecipe.listRowsByTask).
 *   Why: in a composite prompt the sequence set holds every line's task marker, so no gate could
 *   tell which question an answer line answers (MeteoRA scored 2.7 % of composite parts with it);
 *   the base's hidden state does not tell either. A prompt of one line is its own question.
 */
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';

export type PrefixScope = { readonly kind: 'sequence' } | { readonly kind: 'line'; readonly lineBreaks: ReadonlySet<number> };

/** What one row's feature remembers between KV-cache steps. */
export class PrefixState {
  private readonly seen = new Set<number>();
  private questions: Set<number>[] = [];
  private answerLine = 0;
  private afterBreak = false;
  private prompted = false;

  constructor(readonly scope: PrefixScope) {}

  /** The sets of the prompt's (real) tokens, handed at once; starts the answer. */
  prompt(tokens: readonly number[]): Set<number>[] {
    return this.promptLines(tokens).map((line) => (line < 0 ? this.seen : this.questions[line]!));
  }

  /** The set of one generated (or teacher-forced) token after the prompt. */
  next(token: number): Set<number> {
    const line = this.nextLine(token);
    return line < 0 ? this.seen : this.questions[line]!;
  }

  /** Per prompt token, the question line whose set it sees (−1 in sequence scope). */
  promptLines(tokens: readonly number[]): number[] {
    this.prompted = true;
    if (this.scope.kind === 'sequence') {
      for (const t of tokens) this.seen.add(t);
      return tokens.map(() => -1);
    }
    const breaks = this.scope.lineBreaks;
    const lineOf: number[] = [];
    const lines: Set<number>[] = [new Set()];
    for (const t of tokens) {
      lines.at(-1)!.add(t);
      lineOf.push(lines.length - 1);
      if (breaks.has(t)) lines.push(new Set());
    }
    this.questions = lines.length > 1 ? lines.slice(0, -1) : lines;
    this.answerLine = 0;
    this.afterBreak = false;
    const answerStart = lines.length - 1;
    return lineOf.map((line) => (line < answerStart ? line : 0));
  }

  /** The question line a token after the prompt sees (−1 in sequence scope). */
  nextLine(token: number): number {
    if (!this.prompted) this.promptLines([]);
    if (this.scope.kind === 'sequence') {
      this.seen.add(token);
      return -1;
    }
    if (this.afterBreak) this.answerLine++;
    this.afterBreak = this.scope.lineBreaks.has(token);
    return Math.min(this.answerLine, this.questions.length - 1);
  }
}

/**
 * Token ids whose text holds a line break (the `line` scope's separators). Ids the tokenizer
 * cannot decode (a model's vocabulary padded past the tokenizer's) are not separators.
 */
export function lineBreakTokenIds(decode: (ids: readonly number[]) => string, vocabSize: number): Set<number> {
  const out = new Set<number>();
  for (let id = 0; id < vocabSize; id++) {
    let text: string;
    try {
      text = decode([id]);
    } catch {
      continue;
    }
    if (text.includes('\n')) out.add(id);
  }
  return out;
}

/**
 * The feature [rows, seq, V] of padded rows. `real[b][t]` = 0 marks padding (adds nothing, gets
 * the row's current set). The first `promptLengths[b]` positions are the prompt (default none:
 * every position continues what `state[b]` holds). `state` (one per row) carries a row between
 * KV-cache steps and is updated in place; absent, each row starts afresh in `scope` (default
 * sequence).
 */
export function prefixTokenFeature(
  tokens: readonly (readonly number[])[],
  vocabSize: number,
  o: { readonly real?: readonly (readonly number[])[]; readonly state?: readonly PrefixState[]; readonly promptLengths?: readonly number[]; readonly scope?: PrefixScope } = {},
): TensorData {
  const rows = tokens.length;
  const seq = tokens[0]?.length ?? 0;
  const data = new Float32Array(rows * seq * vocabSize);
  tokens.forEach((row, b) => {
    const state = o.state?.[b] ?? new PrefixState(o.scope ?? { kind: 'sequence' });
    const isReal = (t: number): boolean => (o.real?.[b]?.[t] ?? 1) !== 0 && row[t]! >= 0 && row[t]! < vocabSize;
    const prompt = Math.min(o.promptLengths?.[b] ?? 0, seq);
    const sets: (Set<number> | undefined)[] = new Array(seq);
    if (prompt > 0) {
      const positions = Array.from({ length: prompt }, (_, t) => t).filter(isReal);
      state.prompt(positions.map((t) => row[t]!)).forEach((set, i) => (sets[positions[i]!] = set));
    }
    let current: Set<number> | undefined;
    for (let t = 0; t < seq; t++) {
      if (t >= prompt && isReal(t)) sets[t] = state.next(row[t]!);
      current = sets[t] ?? current;
      if (current === undefined) continue;
      const at = (b * seq + t) * vocabSize;
      for (const v of current) data[at + v] = 1;
    }
  });
  return tensorData('float32', [rows, seq, vocabSize], data);
}
