/**
 * The generic pretraining corpus for the world's base model. It teaches what every task
 * needs but no task's mapping:
 * - question/answer pairs in the exact prompt format (single and numbered composite) whose
 *   only relation is the identity: the answer copies the input. They use corpus-only markers
 *   ('@' for words, '=' for numbers), never a task's marker;
 * - repeated passages: a run of pseudo-words, then the same run again. Copying, in both
 *   kinds, is what the base must learn: an induction mechanism (find the earlier occurrence of
 *   the current token, predict the token that followed it) that every task's adapter reuses
 *   with a different read-out (per-character maps, a different order, a count);
 * - prose of pseudo-words, some capitalised, with numbers: letter and digit statistics;
 * - lines of unrelated upper-case pseudo-words: capital letters and their tokens exist,
 *   yet no lowercase word is ever paired with its own upper-case form.
 *
 * Why copy documents dominate the mix: with prose in the majority (the first recipe), a
 * 4-layer base never left the copy loss plateau within 600–1200 steps, copied 0 % of the
 * copy questions, and every adapter then had to build its attention routing from scratch in a
 * few hundred LoRA steps, which failed (tools/world/README.md).
 *
 * Why the base does not solve the tasks: no document contains a task marker, and the only
 * input→answer relation it ever sees is copying. For every task the answer differs from the
 * input (reverse only on palindromes, sort-letters only on already sorted words: rare, see the
 * tests), so a base that copies, or that babbles pseudo-words, scores near zero, while it
 * already knows the format, so an adapter only has to learn the mapping itself.
 */
import type { Rng } from '../util/rng';
import { numberedList } from './composite';
import { randomInt, randomWord } from './words';

/** Markers the corpus uses for its copy questions; disjoint from every task's marker. */
export const CORPUS_MARKERS = { copyWord: '@', copyNumbers: '=' } as const;

/** The prefix that ends every corpus question and starts its answer (as in the task prompts). */
export const CORPUS_ANSWER_SEPARATOR = '\nA:';

type DocumentKind = 'prose' | 'capitals' | 'copy' | 'composite-copy' | 'repeat';

/** Relative frequencies of the document kinds (by document count). */
const KIND_WEIGHTS: ReadonlyArray<readonly [DocumentKind, number]> = [
  ['copy', 0.4],
  ['composite-copy', 0.2],
  ['repeat', 0.25],
  ['prose', 0.1],
  ['capitals', 0.05],
];

/** Copied words span the task inputs' lengths (2–12 letters) so copying covers every task's input. */
const COPY_WORD_LENGTH = { min: 2, max: 12 } as const;

/** `n` independent documents (each one training sequence, well under 128 tokens). */
export function genericCorpus(rng: Rng, n: number): string[] {
  const documents: string[] = [];
  for (let i = 0; i < n; i++) documents.push(renderDocument(rng, pickKind(rng)));
  return documents;
}

function pickKind(rng: Rng): DocumentKind {
  let u = rng.uniform();
  for (const [kind, weight] of KIND_WEIGHTS) {
    if (u < weight) return kind;
    u -= weight;
  }
  return KIND_WEIGHTS[KIND_WEIGHTS.length - 1][0];
}

function renderDocument(rng: Rng, kind: DocumentKind): string {
  switch (kind) {
    case 'prose':
      return proseSentence(rng) + (rng.uniform() < 0.5 ? ' ' + proseSentence(rng) : '');
    case 'capitals':
      return Array.from({ length: randomInt(rng, 2, 6) }, () => randomWord(rng, 2, 8).toUpperCase()).join(' ');
    case 'copy': {
      const question = copyQuestion(rng);
      return `Q: ${question.marker} ${question.input}${CORPUS_ANSWER_SEPARATOR} ${question.input}`;
    }
    case 'composite-copy': {
      const list = numberedList(Array.from({ length: randomInt(rng, 2, 3) }, () => copyQuestion(rng)).map((q) => ({ ...q, answer: q.input })));
      return `${list.prompt} ${list.answer}`;
    }
    case 'repeat': {
      const passage = Array.from({ length: randomInt(rng, 2, 5) }, () => randomWord(rng, 2, 8)).join(' ') + '.';
      return `${passage} ${passage}`;
    }
  }
}

function proseSentence(rng: Rng): string {
  const words = Array.from({ length: randomInt(rng, 3, 9) }, () =>
    rng.uniform() < 0.15 ? String(rng.int(1000)) : randomWord(rng, 1, 9),
  );
  const first = words[0];
  if (rng.uniform() < 0.7) words[0] = first[0].toUpperCase() + first.slice(1);
  return words.join(' ') + '.';
}

/** One of the corpus's copy questions (its answer is its input): a word after '@', numbers after '='. */
export function copyQuestion(rng: Rng): { readonly marker: string; readonly input: string } {
  if (rng.uniform() < 0.6) return { marker: CORPUS_MARKERS.copyWord, input: randomWord(rng, COPY_WORD_LENGTH.min, COPY_WORD_LENGTH.max) };
  const input = rng.uniform() < 0.5 ? String(rng.int(1000)) : `${rng.int(100)} ${rng.int(100)}`;
  return { marker: CORPUS_MARKERS.copyNumbers, input };
}
