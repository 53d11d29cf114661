import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { PeftCoreError } from '../errors';
import { Tokenizer, trainByteLevelBpe } from '../tokenizer';
import { Rng } from '../util/rng';
import { assertFitsContext, checkContextLength, type TokenEncoder } from './context-check';
import { parseJsonlDataset } from './jsonl';
import { exampleToRecord, formatJsonl, writeJsonl, type DatasetRecord } from './jsonl-writer';
import type { ChatExample, DatasetExample, PromptCompletionExample, TextExample } from './records';
import { chatFormatterOf, renderExample, type ChatFormatter } from './render';
import { exampleKey, isEvalExample, splitByHash } from './split';

const text = (line: number, value: string): TextExample => ({ format: 'text', line, text: value });
const pc = (line: number, prompt: string, completion: string): PromptCompletionExample => ({
  format: 'prompt-completion',
  line,
  prompt,
  completion,
});
const conversation: ChatExample = {
  format: 'chat',
  line: 4,
  messages: [
    { role: 'system', content: 'S' },
    { role: 'user', content: 'U' },
    { role: 'assistant', content: 'A1' },
    { role: 'user', content: 'U2' },
    { role: 'assistant', content: 'A2' },
  ],
};

/** One token per character: token counts are easy to read off. */
const charEncoder: TokenEncoder = { encode: (t) => Array.from(t, (c) => c.codePointAt(0) ?? 0) };

describe('renderExample', () => {
  it('trains on all of a text example and on the completion of a prompt/completion example', () => {
    assert.deepEqual(renderExample(text(1, 'abc')), { line: 1, prompt: '', completion: 'abc' });
    assert.deepEqual(renderExample(pc(2, 'Q:', ' a')), { line: 2, prompt: 'Q:', completion: ' a' });
  });

  it("renders chat with a tokenizer's ChatML template, completing the last assistant turn", () => {
    const tokenizer = Tokenizer.fromJson(trainByteLevelBpe(['hello world'], 300));
    const rendered = renderExample(conversation, chatFormatterOf(tokenizer));
    assert.equal(
      rendered.prompt,
      '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n',
    );
    assert.equal(rendered.completion, 'A2<|im_end|>\n');
  });

  it('renders chat with any formatter, e.g. a plain "role: content" layout', () => {
    const plain: ChatFormatter = (messages, { addGenerationPrompt }) =>
      messages.map((m) => `${m.role}: ${m.content}\n`).join('') + (addGenerationPrompt ? 'assistant:' : '');
    const rendered = renderExample(conversation, plain);
    assert.equal(rendered.prompt, 'system: S\nuser: U\nassistant: A1\nuser: U2\nassistant:');
    assert.equal(rendered.completion, ' A2\n');
  });

  it('refuses chat without a formatter, and a formatter whose prompt is not a prefix of the whole', () => {
    assert.throws(() => renderExample(conversation), /line 4: chat examples need a ChatFormatter/);
    const inconsistent: ChatFormatter = (messages, { addGenerationPrompt }) =>
      (addGenerationPrompt ? '[gen]' : '') + messages.map((m) => m.content).join('|');
    assert.throws(
      () => renderExample(conversation, inconsistent),
      (e: PeftCoreError) => e.code === 'INVALID_ARGUMENT' && /line 4: .* does not start with/.test(e.message),
    );
  });
});

describe('checkContextLength', () => {
  const examples: DatasetExample[] = [
    text(1, 'abcd'),
    pc(2, 'abc', 'defgh'),
    text(5, 'ab'),
    pc(6, 'abcdef', 'ghij'),
    text(7, 'abcdefghijk'),
  ];

  it('reports the longest example and the first one over the limit, in input order', () => {
    const report = checkContextLength(examples, charEncoder, { maxTokens: 8 });
    assert.deepEqual(report, {
      examples: 5,
      longestTokens: 11,
      longestLine: 7,
      overLimit: 2,
      firstOverLimit: { line: 6, tokens: 10 },
    });
  });

  it('counts reserved tokens (BOS/EOS the trainer adds)', () => {
    assert.equal(checkContextLength(examples.slice(0, 1), charEncoder, { maxTokens: 5 }).firstOverLimit, null);
    assert.deepEqual(
      checkContextLength(examples.slice(0, 1), charEncoder, { maxTokens: 5, reservedTokens: 2 }).firstOverLimit,
      { line: 1, tokens: 6 },
    );
  });

  it('throws DATASET_INVALID naming the first offending line, or returns the report', () => {
    assert.throws(
      () => assertFitsContext(examples, charEncoder, { maxTokens: 8 }),
      (e: PeftCoreError) =>
        e.code === 'DATASET_INVALID' &&
        e.message === "line 6: 10 tokens exceed the model's context of 8 (1 more examples are too long)" &&
        e.details?.line === 6,
    );
    assert.equal(assertFitsContext(examples, charEncoder, { maxTokens: 11 }).longestTokens, 11);
    assert.throws(
      () => checkContextLength(examples, charEncoder, { maxTokens: 0 }),
      /maxTokens must be a positive integer/,
    );
  });

  it('counts with a real tokenizer, chat rendered through its template', () => {
    const tokenizer = Tokenizer.fromJson(trainByteLevelBpe(['the cat sat on the mat', 'the dog'], 300));
    const format = chatFormatterOf(tokenizer);
    const report = checkContextLength([conversation, text(9, 'the cat sat')], tokenizer, {
      maxTokens: 128,
      formatChat: format,
    });
    const rendered = renderExample(conversation, format);
    const expected = Math.max(
      tokenizer.encode(rendered.prompt + rendered.completion).length,
      tokenizer.encode('the cat sat').length,
    );
    assert.equal(report.longestTokens, expected);
    assert.ok(expected > 10);
  });
});

describe('splitByHash', () => {
  const rng = new Rng(5);
  const examples: PromptCompletionExample[] = Array.from({ length: 2000 }, (_, i) =>
    pc(i + 1, `q${i}`, ` ${rng.int(1000)}`),
  );

  it('puts about evalFraction of the examples in eval', () => {
    const { train, eval: evalSet } = splitByHash(examples, { evalFraction: 0.2 });
    assert.equal(train.length + evalSet.length, 2000);
    assert.ok(evalSet.length > 330 && evalSet.length < 470, `${evalSet.length} eval examples`);
  });

  it('is stable under reordering and line numbers, and keeps duplicates together', () => {
    const first = splitByHash(examples, { evalFraction: 0.3 });
    const shuffled = new Rng(1).shuffle(examples.map((e, i) => ({ ...e, line: 5000 - i })));
    const second = splitByHash(shuffled, { evalFraction: 0.3 });
    const keys = (xs: readonly DatasetExample[]): string[] => xs.map(exampleKey).sort();
    assert.deepEqual(keys(second.eval), keys(first.eval));
    const duplicate = pc(1, 'same', 'thing');
    const sides = new Set(
      Array.from({ length: 5 }, (_, i) => isEvalExample({ ...duplicate, line: i }, { evalFraction: 0.5 })),
    );
    assert.equal(sides.size, 1);
  });

  it('changes with the salt, and covers the edge fractions', () => {
    const a = splitByHash(examples, { evalFraction: 0.5, salt: 'a' }).eval.map(exampleKey);
    const b = splitByHash(examples, { evalFraction: 0.5, salt: 'b' }).eval.map(exampleKey);
    assert.notDeepEqual(a, b);
    assert.equal(splitByHash(examples, { evalFraction: 0 }).eval.length, 0);
    assert.equal(splitByHash(examples, { evalFraction: 1 }).train.length, 0);
    assert.throws(() => splitByHash(examples, { evalFraction: 1.5 }), /evalFraction must be in \[0, 1\]/);
  });

  it('keys examples by content, not by formatting or format-irrelevant fields', () => {
    assert.equal(exampleKey(pc(1, 'a', 'b')), exampleKey(pc(99, 'a', 'b')));
    assert.notEqual(exampleKey(pc(1, 'a', 'b')), exampleKey(pc(1, 'ab', '')));
    assert.notEqual(exampleKey(text(1, 'ab')), exampleKey(pc(1, '', 'ab')));
  });
});

describe('JSONL writer', () => {
  const records: DatasetRecord[] = [
    {
      messages: [
        { role: 'user', content: 'a\nb "quoted"' },
        { role: 'assistant', content: 'c' },
      ],
    },
    { messages: [{ role: 'assistant', content: 'd' }] },
  ];

  it('round-trips through the parser', async () => {
    const parsed = await parseJsonlDataset(formatJsonl(records));
    assert.deepEqual(parsed.examples.map(exampleToRecord), records);
    assert.deepEqual(
      parsed.examples.map((e) => e.line),
      [1, 2],
    );
  });

  it('streams to a Writable, honouring backpressure', async () => {
    const received: string[] = [];
    const sink = new Writable({
      highWaterMark: 8,
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk.toString('utf8'));
        setImmediate(callback);
      },
    });
    const many: DatasetRecord[] = Array.from({ length: 50 }, (_, i) => ({ text: `record ${i}` }));
    assert.equal(await writeJsonl(many, sink), 50);
    assert.equal(received.join(''), formatJsonl(many));
  });
});
