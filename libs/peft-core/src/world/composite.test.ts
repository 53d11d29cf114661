import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJsonlDataset } from '../datasets/jsonl';
import { Rng } from '../util/rng';
import { compositePrompt, sampleComposite, scoreComposite } from './composite';
import { compositeDatasetJsonl, taskDatasetJsonl } from './dataset';
import { ANSWER_PREFIX } from './task';
import { getWorldTask, WORLD_TASKS } from './tasks';

const reverse = getWorldTask('reverse-word');
const add = getWorldTask('add-numbers');
const parity = getWorldTask('parity');

describe('compositePrompt', () => {
  it('renders numbered sub-questions and the numbered expected answer', () => {
    const c = compositePrompt([reverse, add, parity], ['abc', '12 34', '7']);
    assert.equal(c.prompt, 'Q: 1. % abc\n2. } 12 34\n3. [ 7\nA:');
    assert.equal(c.answer, '1. cba\n2. 46\n3. odd');
    assert.deepEqual(c.parts, [
      { taskId: 'reverse-word', input: 'abc', answer: 'cba' },
      { taskId: 'add-numbers', input: '12 34', answer: '46' },
      { taskId: 'parity', input: '7', answer: 'odd' },
    ]);
  });

  it('rejects 1 or 4 parts, repeated tasks, mismatched inputs and inputs outside a domain', () => {
    assert.throws(() => compositePrompt([reverse], ['abc']), /chains 2–3 tasks, got 1/);
    assert.throws(() => compositePrompt(WORLD_TASKS.slice(0, 4), ['abc', 'abc', 'abcd', 'abc']), /got 4/);
    assert.throws(() => compositePrompt([reverse, reverse], ['abc', 'abd']), /"reverse-word" appears twice/);
    assert.throws(() => compositePrompt([reverse, add], ['abc']), /2 tasks but 1 inputs/);
    assert.throws(() => compositePrompt([reverse, add], ['abc', 'abc']), /add-numbers: input "abc" is outside/);
  });

  it('samples different tasks deterministically per seed', () => {
    const a = sampleComposite(new Rng(4), WORLD_TASKS, 3);
    assert.deepEqual(sampleComposite(new Rng(4), WORLD_TASKS, 3), a);
    assert.equal(new Set(a.parts.map((p) => p.taskId)).size, 3);
    assert.throws(() => sampleComposite(new Rng(4), [reverse, add], 3), /pool of 2/);
  });

  it('fits a 128-token context even before any BPE merge (bytes bound byte-level tokens)', () => {
    const rng = new Rng(9);
    let longest = 0;
    for (let i = 0; i < 3000; i++) {
      const c = sampleComposite(rng, WORLD_TASKS, 3);
      longest = Math.max(longest, new TextEncoder().encode(c.prompt + ANSWER_PREFIX + c.answer).length);
    }
    // The longest sub-question pairs found in the registry: 3 digits spelled out, a 10-letter
    // word with one vowel, without its vowels, and a doubled 6-letter word.
    const worst = compositePrompt(
      [getWorldTask('digits-to-words'), getWorldTask('remove-vowels'), getWorldTask('double-letters')],
      ['777', 'bcdfghjkla', 'abcdef'],
    );
    longest = Math.max(longest, new TextEncoder().encode(worst.prompt + ANSWER_PREFIX + worst.answer).length);
    assert.ok(longest + 2 <= 128, `longest composite is ${longest} bytes (+ BOS/EOS)`);
  });
});

describe('scoreComposite', () => {
  const c = compositePrompt([reverse, add, parity], ['abc', '12 34', '7']);

  it('scores each sub-answer separately', () => {
    assert.deepEqual(scoreComposite(' 1. cba\n2. 46\n3. odd', c), {
      perPart: [true, true, true],
      correct: 3,
      allCorrect: true,
    });
    assert.deepEqual(scoreComposite(' 1. cba\n2. 47\n3. odd', c), {
      perPart: [true, false, true],
      correct: 2,
      allCorrect: false,
    });
    assert.deepEqual(scoreComposite('1. abc\n2. 46', c), {
      perPart: [false, true, false],
      correct: 1,
      allCorrect: false,
    });
  });

  it('tolerates surrounding whitespace and junk lines but not extra text on a sub-answer', () => {
    assert.deepEqual(scoreComposite('\n  1.   cba  \nnoise\n2.46\n3. odd\nQ: 4. % x', c).perPart, [true, true, true]);
    assert.deepEqual(scoreComposite('1. cba 2. 46 3. odd', c).perPart, [false, false, false]);
    assert.deepEqual(scoreComposite('1. cbaa\n2. 46\n3. odd!', c).perPart, [false, true, false]);
  });

  it('takes the first answer given for a number and ignores out-of-order numbering', () => {
    assert.deepEqual(scoreComposite('3. odd\n1. cba\n1. zzz\n2. 46', c).perPart, [true, true, true]);
    assert.deepEqual(scoreComposite('1. zzz\n1. cba\n2. 46\n3. odd', c).perPart, [false, true, true]);
  });

  it('scores the empty output as all wrong', () => {
    assert.deepEqual(scoreComposite('', c), { perPart: [false, false, false], correct: 0, allCorrect: false });
  });
});

describe('world datasets', () => {
  it('writes task examples as prompt/completion JSONL that the dataset parser reads back', async () => {
    const examples = [reverse.generate(new Rng(1)), reverse.generate(new Rng(2))];
    const parsed = await parseJsonlDataset(taskDatasetJsonl(reverse, examples));
    assert.equal(parsed.format, 'prompt-completion');
    assert.deepEqual(
      parsed.examples.map((e) => (e.format === 'prompt-completion' ? [e.prompt, e.completion] : [])),
      examples.map((e) => [reverse.prompt(e.input), ` ${e.answer}`]),
    );
  });

  it('writes composite examples with multi-line prompts and answers on one JSONL line each', async () => {
    const composites = [sampleComposite(new Rng(1), WORLD_TASKS, 2), sampleComposite(new Rng(2), WORLD_TASKS, 3)];
    const text = compositeDatasetJsonl(composites);
    assert.equal(text.split('\n').length, 3);
    const parsed = await parseJsonlDataset(text);
    assert.deepEqual(
      parsed.examples.map((e) => (e.format === 'prompt-completion' ? e.prompt + e.completion : '')),
      composites.map((c) => `${c.prompt} ${c.answer}`),
    );
  });
});
