/**
 * The generic pretraining corpus for the world's base model. It teaches what every task
 * needs but no task's mapping:
 * - prose of pseudo-words, some capitalised, with numbers: letter and digit statistics;
 * - lines of unrelated upper-case pseudo-words: capital letters and their tokens exist,
 *   yet no lowercase word is ever paired with its own upper-case form;
 * - question/answer pairs in the exact prompt format (single and numbered composite) whose
 *   only relation is the identity: the answer copies the input. They use corpus-only markers
 *   ('@' for words, '=' for numbers), never a task's marker.
 *
 * Why the base does not solve the tasks: no document contains a task marker, and the only
 * input→answer relation it ever sees is copying. For every task the answer differs from the
 * input (reverse only on palindromes, sort-letters only on already sorted words: rare, see the
 * tests), so a base that copies, or that babbles pseudo-words, scores near zero, while it
 * already knows the format, so an adapter only has to learn the mapping itself.
 */
import type { Rng } from '../util/rng';
import { randomInt, randomWord } from './words';

/** Markers the corpus uses for its copy questions; disjoint from every task's marker. */
export const CORPUS_MARKERS = { copyWord: '@', copyNumbers: '=' } as const;

type DocumentKind = 'prose' | 'capitals' | 'copy' | 'composite-copy';

/** Relative frequencies of the document kinds. */
const KIND_WEIGHTS: ReadonlyArray<readonly [DocumentKind, number]> = [
  ['prose', 0.4],
  ['capitals', 0.1],
  ['copy', 0.35],
  ['composite-copy', 0.15],
];

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
      return `Q: ${question.marker} ${question.input}\nA: ${question.input}`;
    }
    case 'composite-copy': {
      const questions = Array.from({ length: randomInt(rng, 2, 3) }, () => copyQuestion(rng));
      const asked = questions.map((q, i) => `${i + 1}. ${q.marker} ${q.input}`).join('\n');
      const answered = questions.map((q, i) => `${i + 1}. ${q.input}`).join('\n');
      return `Q: ${asked}\nA: ${answered}`;
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

function copyQuestion(rng: Rng): { readonly marker: string; readonly input: string } {
  if (rng.uniform() < 0.55) return { marker: CORPUS_MARKERS.copyWord, input: randomWord(rng, 2, 10) };
  const input = rng.uniform() < 0.5 ? String(rng.int(1000)) : `${rng.int(100)} ${rng.int(100)}`;
  return { marker: CORPUS_MARKERS.copyNumbers, input };
}
