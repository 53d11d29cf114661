import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeftCoreError } from '../errors';
import { Rng } from '../util/rng';
import { generateSplit } from './split';
import { parseTaskPrompt, renderPrompt } from './task';
import { getWorldTask, WORLD_TASKS } from './tasks';

/**
 * Independent checks of each task's answer, written differently from the task's own mapping
 * (inverse operations, character codes, counting by regex), so that a wrong mapping fails.
 */
const ANSWER_CHECKS: Record<string, (input: string, answer: string) => boolean> = {
  'reverse-word': (input, answer) =>
    answer.length === input.length && Array.from(answer).every((ch, i) => ch === input[input.length - 1 - i]),
  'uppercase-word': (input, answer) =>
    answer.length === input.length &&
    Array.from(answer).every((ch, i) => ch.charCodeAt(0) === input.charCodeAt(i) - 32),
  'sort-letters': (input, answer) => {
    const counts = (s: string): string =>
      JSON.stringify(
        Object.entries(
          Array.from(s).reduce<Record<string, number>>((m, c) => ({ ...m, [c]: (m[c] ?? 0) + 1 }), {}),
        ).sort(),
      );
    const ordered = Array.from(answer).every((ch, i) => i === 0 || answer[i - 1] <= ch);
    return ordered && counts(answer) === counts(input);
  },
  'count-vowels': (input, answer) => Number(answer) === (input.match(/[aeiou]/g) ?? []).length && /^\d+$/.test(answer),
  'caesar-shift': (input, answer) =>
    answer.length === input.length &&
    Array.from(answer).every((ch, i) => (ch.charCodeAt(0) - input.charCodeAt(i) + 26) % 26 === 1 && /[a-z]/.test(ch)),
  rot13: (input, answer) => {
    const rot = (s: string): string =>
      s.replace(/[a-z]/g, (c) => 'nopqrstuvwxyzabcdefghijklm'['abcdefghijklmnopqrstuvwxyz'.indexOf(c)]);
    return rot(input) === answer && rot(answer) === input && answer !== input;
  },
  'double-letters': (input, answer) =>
    answer.length === 2 * input.length &&
    Array.from(input).every((ch, i) => answer[2 * i] === ch && answer[2 * i + 1] === ch),
  'first-last-letter': (input, answer) => answer === input.charAt(0) + input.charAt(input.length - 1),
  'word-length': (input, answer) => answer === input.split('').length.toString(),
  'remove-vowels': (input, answer) =>
    !/[aeiou]/.test(answer) && answer === input.replace(/[aeiou]/g, '') && answer.length > 0,
  'add-numbers': (input, answer) => {
    const [a, b] = input.split(' ').map(Number);
    return Number(answer) - b === a && String(Number(answer)) === answer;
  },
  'subtract-numbers': (input, answer) => {
    const [a, b] = input.split(' ').map(Number);
    return Number(answer) + b === a && Number(answer) >= 0 && String(Number(answer)) === answer;
  },
  'multiply-digit': (input, answer) => {
    const [a, d] = input.split(' ').map(Number);
    let product = 0;
    for (let i = 0; i < d; i++) product += a;
    return answer === String(product);
  },
  'digits-to-words': (input, answer) => {
    const names = 'zero one two three four five six seven eight nine'.split(' ');
    return (
      answer
        .split(' ')
        .map((w) => names.indexOf(w))
        .join('') === input
    );
  },
  parity: (input, answer) => answer === ('02468'.includes(input[input.length - 1]) ? 'even' : 'odd'),
};

describe('world task registry', () => {
  it('has at least 12 tasks with unique kebab-case ids and unique one-character markers', () => {
    assert.ok(WORLD_TASKS.length >= 12, `${WORLD_TASKS.length} tasks`);
    const ids = WORLD_TASKS.map((t) => t.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of ids) assert.match(id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    const markers = WORLD_TASKS.map((t) => t.marker);
    assert.equal(new Set(markers).size, markers.length);
    for (const marker of markers)
      assert.match(marker, /^[!-/:-@[-`{-~]$/, `marker ${marker} is one ASCII punctuation character`);
    // ":" and "." appear in the prompt frame ("Q:", "1."), so a marker must not be one of them.
    assert.ok(!markers.includes(':') && !markers.includes('.'));
  });

  it('every task has an independent answer check in this test', () => {
    assert.deepEqual(WORLD_TASKS.map((t) => t.id).sort(), Object.keys(ANSWER_CHECKS).sort());
  });

  it('has ≥ 3 descriptions and ≥ 2 held-out paraphrases per task, all distinct across the world', () => {
    const all: string[] = [];
    for (const task of WORLD_TASKS) {
      assert.ok(task.descriptions.length >= 3, task.id);
      assert.ok(task.heldOutDescriptions.length >= 2, task.id);
      all.push(...task.descriptions, ...task.heldOutDescriptions);
    }
    const normalized = all.map((d) =>
      d
        .toLowerCase()
        .replace(/[^a-z0-9 ]/g, '')
        .trim(),
    );
    assert.equal(new Set(normalized).size, normalized.length, 'a description is repeated');
    for (const d of all) assert.ok(d.length >= 15, `description too short: ${d}`);
  });

  it('looks tasks up by id and names the known ids on a miss', () => {
    assert.equal(getWorldTask('rot13').id, 'rot13');
    assert.throws(
      () => getWorldTask('nope'),
      (e: PeftCoreError) => e.code === 'INVALID_ARGUMENT' && /unknown world task "nope".*reverse-word/.test(e.message),
    );
  });

  for (const task of WORLD_TASKS) {
    describe(task.id, () => {
      const check = ANSWER_CHECKS[task.id];

      it('generates correct answers for inputs in its domain, short enough for a tiny model', () => {
        const rng = new Rng(11);
        for (let i = 0; i < 400; i++) {
          const { input, answer } = task.generate(rng);
          assert.ok(task.accepts(input), `${task.id} generated ${JSON.stringify(input)} outside its domain`);
          assert.ok(check(input, answer), `${task.id}: ${JSON.stringify(input)} → ${JSON.stringify(answer)}`);
          assert.ok(input.length <= 12, `input ${input}`);
          assert.ok(answer.length > 0 && answer.length <= 17 && !answer.includes('\n'), `answer ${answer}`);
          assert.equal(task.solve(input), answer);
        }
      });

      it('is deterministic per seed and varies across seeds', () => {
        const draw = (seed: number): string[] => {
          const rng = new Rng(seed);
          return Array.from({ length: 30 }, () => JSON.stringify(task.generate(rng)));
        };
        assert.deepEqual(draw(5), draw(5));
        assert.notDeepEqual(draw(5), draw(6));
      });

      it('rarely has an answer equal to its input, so a copying base model fails', () => {
        const rng = new Rng(3);
        let copies = 0;
        for (let i = 0; i < 1000; i++) {
          const { input, answer } = task.generate(rng);
          if (input === answer) copies++;
        }
        assert.ok(copies < 30, `${copies}/1000 answers equal their input`);
      });

      it('renders the shared prompt template with its marker and no task name', () => {
        const { input } = task.generate(new Rng(1));
        assert.equal(task.prompt(input), `Q: ${task.marker} ${input}\nA:`);
        for (const word of task.id.split('-')) {
          if (word.length > 3) assert.ok(!task.prompt(input).toLowerCase().includes(word), `prompt leaks "${word}"`);
        }
      });

      it('scores by exact match after trimming', () => {
        const { input, answer } = task.generate(new Rng(2));
        assert.equal(task.score(`  ${answer}\n`, answer), true);
        assert.equal(task.score(`${answer}x`, answer), false);
        assert.equal(task.score('', answer), false);
        assert.ok(!task.accepts(`${input} ${input}!`));
        assert.throws(() => task.solve('??'), /outside the task's domain/);
      });

      it('splits into disjoint train and eval sets, deterministically, with a stable eval set', () => {
        const split = generateSplit(task, { seed: 7, train: 200, eval: 50 });
        assert.equal(split.train.length, 200);
        assert.equal(split.eval.length, 50);
        const trainInputs = new Set(split.train.map((e) => e.input));
        assert.equal(trainInputs.size, 200, 'train inputs repeat');
        assert.equal(new Set(split.eval.map((e) => e.input)).size, 50, 'eval inputs repeat');
        for (const e of split.eval) assert.ok(!trainInputs.has(e.input), `eval input ${e.input} is in train`);
        assert.deepEqual(generateSplit(task, { seed: 7, train: 200, eval: 50 }), split);
        assert.deepEqual(generateSplit(task, { seed: 7, train: 20, eval: 50 }).eval, split.eval);
        assert.notDeepEqual(generateSplit(task, { seed: 8, train: 0, eval: 50 }).eval, split.eval);
      });
    });
  }

  it('prompts of different tasks on the same input differ (the marker tells them apart)', () => {
    const add = getWorldTask('add-numbers');
    const subtract = getWorldTask('subtract-numbers');
    assert.notEqual(add.prompt('58 37'), subtract.prompt('58 37'));
    assert.equal(add.solve('58 37'), '95');
    assert.equal(subtract.solve('58 37'), '21');
    const prompts = new Set(WORLD_TASKS.map((t) => t.prompt('abc')));
    assert.equal(prompts.size, WORLD_TASKS.length);
    assert.equal(renderPrompt('%', 'abc'), 'Q: % abc\nA:');
    assert.equal(parseTaskPrompt('%', renderPrompt('%', 'ab c')), 'ab c');
    for (const other of ['Q: $ abc\nA:', 'Q: % abc', 'Q: 1. % abc\nA:', 'Q: %\nA:']) assert.equal(parseTaskPrompt('%', other), undefined, other);
  });

  it('spot-checks known answers', () => {
    const cases: Array<[string, string, string]> = [
      ['reverse-word', 'abcd', 'dcba'],
      ['caesar-shift', 'xyz', 'yza'],
      ['rot13', 'hello', 'uryyb'],
      ['digits-to-words', '305', 'three zero five'],
      ['multiply-digit', '99 9', '891'],
      ['multiply-digit', '999 9', '8991'],
      ['remove-vowels', 'banana', 'bnn'],
      ['first-last-letter', 'kayak', 'kk'],
      ['parity', '0', 'even'],
      ['count-vowels', 'queue', '4'],
    ];
    for (const [id, input, answer] of cases) assert.equal(getWorldTask(id).solve(input), answer, `${id}(${input})`);
  });

  it('uses all of a small input space and refuses to split beyond it', () => {
    const parity = getWorldTask('parity');
    const full = generateSplit(parity, { seed: 1, train: 700, eval: 300 });
    assert.equal(new Set([...full.train, ...full.eval].map((e) => e.input)).size, 1000);
    assert.throws(
      () => generateSplit(parity, { seed: 1, train: 900, eval: 101 }),
      /exceed the task's 1000 distinct inputs/,
    );
    assert.throws(() => generateSplit(parity, { seed: 1, train: -1, eval: 1 }), /train must be a non-negative integer/);
  });
});
