import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseJsonlDataset } from '../../src/datasets/jsonl';
import { BatchSampler, collate, IGNORE_INDEX, packExamples, splitTrainEval, tokenizeExample, trainingExampleOf } from '../../src/train/data';
import { CharTokenizer } from './fixtures';

const tok = new CharTokenizer('abcdefgh>');

describe('training data pipeline', () => {
  it('prompt/completion: targets only on the completion and EOS', () => {
    const ex = tokenizeExample(tok, { prompt: 'ab>', completion: 'ba' });
    assert.deepEqual(ex.ids, [1, 3, 4, 11, 4, 3, 2]);
    assert.deepEqual(ex.lossMask, [0, 0, 0, 0, 1, 1, 1]);
  });

  it('text: every token after the first is a target', () => {
    const ex = tokenizeExample(tok, { text: 'abc' });
    assert.deepEqual(ex.ids, [1, 3, 4, 5, 2]);
    assert.deepEqual(ex.lossMask, [0, 1, 1, 1, 1]);
  });

  it('collate shifts targets, pads right with ignored targets, and cuts long rows', () => {
    const a = tokenizeExample(tok, { prompt: 'a>', completion: 'b' }); // [1,3,11,4,2] mask [0,0,0,1,1]
    const b = tokenizeExample(tok, { text: 'abcdefg' }); // 9 tokens, cut to 6
    const batch = collate([a, b], 6, 0);
    assert.deepEqual(Array.from(batch.inputIds, Number), [1, 3, 11, 4, 2, 0, 1, 3, 4, 5, 6, 7]);
    const I = IGNORE_INDEX;
    assert.deepEqual(Array.from(batch.targets, Number), [I, I, 4, 2, I, I, 3, 4, 5, 6, 7, I]);
    assert.equal(batch.targetCount, 7);
    assert.equal(batch.tokenCount, 11);
  });

  it('packing fills rows exactly and never targets the first token of an example', () => {
    const rows = packExamples([tokenizeExample(tok, { text: 'abc' }), tokenizeExample(tok, { text: 'de' })], 4);
    assert.deepEqual(rows.map((r) => r.ids), [[1, 3, 4, 5], [2, 1, 6, 7]], 'a trailing single token is dropped');
    assert.deepEqual(rows[1]!.lossMask, [1, 0, 1, 1]);
  });

  it('turns parsed dataset records into training examples (chat through the formatter)', async () => {
    const text = await parseJsonlDataset('{"prompt":"a","completion":"b","id":7}\n\n{"prompt":"c","completion":"d"}\n');
    assert.deepEqual(text.examples.map((e) => trainingExampleOf(e)), [{ prompt: 'a', completion: 'b' }, { prompt: 'c', completion: 'd' }]);
    const plain = await parseJsonlDataset('{"text":"abc"}\n');
    assert.deepEqual(trainingExampleOf(plain.examples[0]!), { text: 'abc' });
    const chat = await parseJsonlDataset('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}\n');
    const format = (messages: readonly { role: string; content: string }[], o: { addGenerationPrompt: boolean }): string =>
      messages.map((m) => `${m.role}: ${m.content}\n`).join('') + (o.addGenerationPrompt ? 'assistant: ' : '');
    assert.deepEqual(trainingExampleOf(chat.examples[0]!, format), { prompt: 'user: hi\nassistant: ', completion: 'yo\n' });
    assert.throws(() => trainingExampleOf(chat.examples[0]!), /line 1: chat examples need a ChatFormatter/);
  });

  it('train/eval split is seeded, disjoint and complete', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const s1 = splitTrainEval(items, 0.25, 7);
    const s2 = splitTrainEval(items, 0.25, 7);
    assert.deepEqual(s1, s2);
    assert.equal(s1.eval.length, 5);
    assert.deepEqual([...s1.train, ...s1.eval].sort((x, y) => x - y), items);
    assert.notDeepEqual(splitTrainEval(items, 0.25, 8).eval, s1.eval);
  });

  it('the sampler reshuffles per epoch and resumes exactly from its state', () => {
    const a = new BatchSampler(10, 3, 42);
    const seen: number[][] = [];
    for (let i = 0; i < 4; i++) seen.push(a.next());
    assert.equal(a.epoch, 1, '3 full batches per epoch, the 4th starts epoch 1');
    assert.deepEqual([...seen.slice(0, 3).flat()].length, 9);
    const saved = a.state();
    const rest = [a.next(), a.next(), a.next()];
    const b = new BatchSampler(10, 3, 42);
    b.loadState(saved);
    assert.deepEqual([b.next(), b.next(), b.next()], rest);
    assert.throws(() => new BatchSampler(2, 3, 1), /exceeds/);
  });
});
