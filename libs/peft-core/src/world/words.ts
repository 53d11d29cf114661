/**
 * Random inputs shared by the world's tasks and its generic pretraining corpus. Words are
 * pseudo-words over a–z where each letter is a vowel with probability 0.4, so they look more
 * like language than uniform letters do and vowel-related tasks get varied answers.
 */
import type { Rng } from '../util/rng';

export const VOWELS = 'aeiou';
export const CONSONANTS = 'bcdfghjklmnpqrstvwxyz';
const VOWEL_PROBABILITY = 0.4;

/** Uniform integer in [min, max] (both inclusive). */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + rng.int(max - min + 1);
}

/** A lowercase pseudo-word with a length drawn uniformly from [minLength, maxLength]. */
export function randomWord(rng: Rng, minLength: number, maxLength: number): string {
  const length = randomInt(rng, minLength, maxLength);
  let word = '';
  for (let i = 0; i < length; i++) {
    const pool = rng.uniform() < VOWEL_PROBABILITY ? VOWELS : CONSONANTS;
    word += pool[rng.int(pool.length)];
  }
  return word;
}

export function isVowel(letter: string): boolean {
  return VOWELS.includes(letter);
}

/** How many distinct lowercase words have a length in [minLength, maxLength]: Σ 26^L. */
export function wordSpaceSize(minLength: number, maxLength: number): number {
  let total = 0;
  for (let length = minLength; length <= maxLength; length++) total += 26 ** length;
  return total;
}
