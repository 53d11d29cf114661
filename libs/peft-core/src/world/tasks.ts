/**
 * The evaluation world's task registry: small deterministic string and arithmetic mappings
 * that a few-million-parameter model with a LoRA adapter can learn in a minute or two on CPU.
 * Inputs stay short (words of at most 12 letters, numbers below 1000) and answers are
 * of at most 17 characters ("three seven eight"), so three chained sub-questions fit in 128 tokens.
 *
 * Markers are assigned arbitrarily (addition is "}", not "+"), so that the
 * marker carries no meaning the base model could have picked up from generic text.
 */
import { PeftCoreError } from '../errors';
import type { Rng } from '../util/rng';
import { defineTask, type TaskSpec, type WorldTask } from './task';
import { CONSONANTS, isVowel, randomInt, randomWord, VOWELS, wordSpaceSize } from './words';

const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] as const;

/** Canonical decimal (no sign, no leading zeros) below 100 / below 1000. */
const BELOW_100 = '(?:0|[1-9]\\d?)';
const BELOW_1000 = '(?:0|[1-9]\\d{0,2})';
const NUMBER_BELOW_1000 = new RegExp(`^${BELOW_1000}$`);
const PAIR_BELOW_100 = new RegExp(`^(${BELOW_100}) (${BELOW_100})$`);
const NUMBER_AND_DIGIT = new RegExp(`^(${BELOW_1000}) ([2-9])$`);

function wordPattern(minLength: number, maxLength: number): RegExp {
  return new RegExp(`^[a-z]{${minLength},${maxLength}}$`);
}

/** Two numbers from a "a b" input that the task's pattern has already accepted. */
function numberPair(pattern: RegExp, input: string): [number, number] {
  const match = pattern.exec(input);
  if (match === null) throw new PeftCoreError('INVALID_ARGUMENT', `${JSON.stringify(input)} is not two numbers`);
  return [Number(match[1]), Number(match[2])];
}

function shiftLetters(word: string, by: number): string {
  const a = 'a'.charCodeAt(0);
  return Array.from(word, (ch) => String.fromCharCode(a + ((ch.charCodeAt(0) - a + by) % 26))).join('');
}

function wordTask(
  spec: Omit<TaskSpec, 'inputSpace' | 'sampleInput' | 'accepts'> & {
    readonly minLength: number;
    readonly maxLength: number;
    /** Further domain restriction on top of the length and alphabet. */
    readonly alsoRequires?: (word: string) => boolean;
  },
): WorldTask {
  const { minLength, maxLength, alsoRequires, ...rest } = spec;
  const pattern = wordPattern(minLength, maxLength);
  const accepts = (input: string): boolean =>
    pattern.test(input) && (alsoRequires === undefined || alsoRequires(input));
  const sampleInput = (rng: Rng): string => {
    // Rejection sampling; every restriction used here keeps most words, so this ends quickly.
    for (;;) {
      const word = randomWord(rng, minLength, maxLength);
      if (accepts(word)) return word;
    }
  };
  return defineTask({ ...rest, inputSpace: wordSpaceSize(minLength, maxLength), sampleInput, accepts });
}

export const WORLD_TASKS: readonly WorldTask[] = [
  wordTask({
    id: 'reverse-word',
    title: 'Reverse a word',
    marker: '%',
    minLength: 3,
    maxLength: 8,
    descriptions: [
      'Reverse the order of the letters in a word.',
      'Spell the given word backwards, last letter first.',
      'Mirror a string so that it reads from right to left.',
    ],
    heldOutDescriptions: ['Write the word back to front.', 'Flip a sequence of characters end to end.'],
    answer: (word) => Array.from(word).reverse().join(''),
  }),
  wordTask({
    id: 'uppercase-word',
    title: 'Uppercase a word',
    marker: '&',
    minLength: 3,
    maxLength: 8,
    descriptions: [
      'Convert every letter of a word to upper case.',
      'Rewrite the text in capital letters.',
      'Make a lowercase string all caps.',
    ],
    heldOutDescriptions: [
      'Turn small letters into their capital forms.',
      'Shout the word by capitalising each character.',
    ],
    answer: (word) => word.toUpperCase(),
  }),
  wordTask({
    id: 'sort-letters',
    title: 'Sort the letters of a word',
    marker: '#',
    // At least four letters, so that an input is rarely already in order (a copying model fails).
    minLength: 4,
    maxLength: 8,
    descriptions: [
      'Sort the letters of a word in alphabetical order.',
      'Rearrange the characters from a to z.',
      'Put the letters of the string in dictionary order, keeping repeats.',
    ],
    heldOutDescriptions: [
      'Order the characters of a word alphabetically.',
      'Arrange a word’s letters ascending from A toward Z.',
    ],
    answer: (word) => Array.from(word).sort().join(''),
  }),
  wordTask({
    id: 'count-vowels',
    title: 'Count the vowels in a word',
    marker: '$',
    minLength: 3,
    maxLength: 10,
    descriptions: [
      'Count how many vowels a word contains.',
      'Report the number of letters among a, e, i, o and u in the string.',
      'Tally the vowel characters and answer with the total as a number.',
    ],
    heldOutDescriptions: ['How many of the letters are vowels?', 'Give the vowel count of a lowercase word.'],
    answer: (word) => String(Array.from(word).filter(isVowel).length),
  }),
  wordTask({
    id: 'caesar-shift',
    title: 'Caesar shift by one',
    marker: ';',
    minLength: 3,
    maxLength: 8,
    descriptions: [
      'Replace each letter with the next letter of the alphabet, wrapping z around to a.',
      'Apply a Caesar cipher with a shift of one.',
      'Advance every character by one position in the alphabet.',
    ],
    heldOutDescriptions: [
      'Encrypt a word by moving each letter one step forward.',
      'Substitute every letter with its alphabetical successor.',
    ],
    answer: (word) => shiftLetters(word, 1),
  }),
  wordTask({
    id: 'rot13',
    title: 'ROT13',
    marker: '^',
    minLength: 3,
    maxLength: 8,
    descriptions: [
      'Encode a word with ROT13.',
      'Rotate each letter thirteen places through the alphabet.',
      'Swap every letter in the first half of the alphabet with its partner in the second half (a with n, b with o).',
    ],
    heldOutDescriptions: [
      'Apply the rotate-by-13 substitution cipher.',
      'Shift all letters halfway around the alphabet.',
    ],
    answer: (word) => shiftLetters(word, 13),
  }),
  wordTask({
    id: 'double-letters',
    title: 'Double each letter',
    marker: '~',
    minLength: 2,
    maxLength: 6,
    descriptions: [
      'Write every letter of the word twice in a row.',
      'Duplicate each character of a string in place.',
      'Stutter the word: repeat each letter once, so abc becomes aabbcc.',
    ],
    heldOutDescriptions: ['Double up all of the characters.', 'Echo each letter immediately after itself.'],
    answer: (word) => Array.from(word, (ch) => ch + ch).join(''),
  }),
  wordTask({
    id: 'first-last-letter',
    title: 'First and last letter',
    marker: '?',
    minLength: 3,
    maxLength: 10,
    descriptions: [
      'Give the first and the last letter of a word.',
      'Keep only the two ends of the string.',
      'Answer with the opening letter followed by the closing letter.',
    ],
    heldOutDescriptions: [
      'Which letters does the word start and end with?',
      'Take the initial and final characters of the text.',
    ],
    answer: (word) => word[0] + word[word.length - 1],
  }),
  wordTask({
    id: 'word-length',
    title: 'Length of a word',
    marker: '!',
    minLength: 2,
    maxLength: 12,
    descriptions: [
      'Count the letters in a word.',
      'Return the length of the string as a number.',
      'Say how many characters long the text is.',
    ],
    heldOutDescriptions: ['Measure how long a word is in letters.', 'What is the character count of this string?'],
    answer: (word) => String(word.length),
  }),
  wordTask({
    id: 'remove-vowels',
    title: 'Remove the vowels',
    marker: '|',
    minLength: 3,
    maxLength: 10,
    // A vowel to remove and a consonant to keep: the answer is never the input, never empty.
    alsoRequires: (word) => Array.from(word).some(isVowel) && Array.from(word).some((ch) => CONSONANTS.includes(ch)),
    descriptions: [
      'Delete every vowel from a word.',
      'Strip out a, e, i, o and u and keep the consonants in order.',
      'Write the string without its vowels.',
    ],
    heldOutDescriptions: ['Drop the vowel letters from the text.', 'Leave only the consonants of the word.'],
    answer: (word) =>
      Array.from(word)
        .filter((ch) => !VOWELS.includes(ch))
        .join(''),
  }),
  defineTask({
    id: 'add-numbers',
    title: 'Add two numbers',
    marker: '}',
    descriptions: [
      'Add two whole numbers together.',
      'Compute the sum of a pair of integers.',
      'Given two numbers separated by a space, answer with their total.',
    ],
    heldOutDescriptions: [
      'What do the two numbers make when combined?',
      'Find the addition result of two values below one hundred.',
    ],
    inputSpace: 100 * 100,
    sampleInput: (rng) => `${rng.int(100)} ${rng.int(100)}`,
    accepts: (input) => PAIR_BELOW_100.test(input),
    answer: (input) => {
      const [a, b] = numberPair(PAIR_BELOW_100, input);
      return String(a + b);
    },
  }),
  defineTask({
    id: 'subtract-numbers',
    title: 'Subtract two numbers',
    marker: '{',
    descriptions: [
      'Subtract the second number from the first.',
      'Compute the difference between two integers, larger one first.',
      'Take the right-hand value away from the left-hand value.',
    ],
    heldOutDescriptions: [
      'How much is left when the second number is removed from the first?',
      'Find the first number minus the second.',
    ],
    inputSpace: (100 * 101) / 2,
    sampleInput: (rng) => {
      const a = rng.int(100);
      const b = rng.int(100);
      // Larger first keeps answers non-negative: no sign to learn.
      return a >= b ? `${a} ${b}` : `${b} ${a}`;
    },
    accepts: (input) => {
      if (!PAIR_BELOW_100.test(input)) return false;
      const [a, b] = numberPair(PAIR_BELOW_100, input);
      return a >= b;
    },
    answer: (input) => {
      const [a, b] = numberPair(PAIR_BELOW_100, input);
      return String(a - b);
    },
  }),
  defineTask({
    id: 'multiply-digit',
    title: 'Multiply by a single digit',
    marker: '<',
    descriptions: [
      'Multiply a number by a single digit.',
      'Compute the product of a number below one thousand and a digit from 2 to 9.',
      'Scale the first value by the second and give the result.',
    ],
    heldOutDescriptions: [
      'What is the number times the digit?',
      'Find how much the first number is when taken several times over.',
    ],
    // Operands up to 999, not 99: with a < 100 only 800 inputs exist, 700 after the held-out
    // 100, and a LoRA fits those exactly (train loss 0.002) while scoring 35–38 % on the held-out
    // ones; 7900 examples of the wider task gave 75 % after 2000 steps and still falling
    // (tools/world/README.md, round 4). The answer stays most significant digit first.
    inputSpace: 1000 * 8,
    sampleInput: (rng) => `${rng.int(1000)} ${randomInt(rng, 2, 9)}`,
    accepts: (input) => NUMBER_AND_DIGIT.test(input),
    answer: (input) => {
      const [a, d] = numberPair(NUMBER_AND_DIGIT, input);
      return String(a * d);
    },
  }),
  defineTask({
    id: 'digits-to-words',
    title: 'Spell out digits',
    marker: '>',
    descriptions: [
      'Spell out each digit of a number as an English word.',
      'Read a number digit by digit in words, separated by spaces.',
      'Convert numerals into their names, one word per digit.',
    ],
    heldOutDescriptions: [
      'Say every digit of the number aloud in English.',
      'Write the figures as words, digit after digit.',
    ],
    inputSpace: 1000,
    sampleInput: (rng) => String(rng.int(1000)),
    accepts: (input) => NUMBER_BELOW_1000.test(input),
    answer: (input) => Array.from(input, (digit) => DIGIT_WORDS[Number(digit)]).join(' '),
  }),
  defineTask({
    id: 'parity',
    title: 'Even or odd',
    marker: '[',
    descriptions: [
      'Tell whether a number is even or odd.',
      'Classify an integer by its parity.',
      'Answer even if the number divides by two, otherwise odd.',
    ],
    heldOutDescriptions: [
      'Is this number divisible by two or not?',
      'Decide if the value is an even or an odd integer.',
    ],
    inputSpace: 1000,
    sampleInput: (rng) => String(rng.int(1000)),
    accepts: (input) => NUMBER_BELOW_1000.test(input),
    answer: (input) => (Number(input) % 2 === 0 ? 'even' : 'odd'),
  }),
];

const TASKS_BY_ID = new Map(WORLD_TASKS.map((task) => [task.id, task]));

export function getWorldTask(id: string): WorldTask {
  const task = TASKS_BY_ID.get(id);
  if (task === undefined) {
    throw new PeftCoreError(
      'INVALID_ARGUMENT',
      `unknown world task "${id}"; known: ${WORLD_TASKS.map((t) => t.id).join(', ')}`,
    );
  }
  return task;
}
