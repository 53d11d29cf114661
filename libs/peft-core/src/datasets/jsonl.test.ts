import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { PeftCoreError } from '../errors';
import { iterateJsonlDataset, parseJsonlDataset, type JsonlParseOptions } from './jsonl';
import type { LineSource } from './line-reader';

const lines = (...records: string[]): string => records.join('\n') + '\n';

describe('parseJsonlDataset: valid files', () => {
  it('reads the text format', async () => {
    const parsed = await parseJsonlDataset(lines('{"text":"hello world"}', '{"text":"line\\nbreak","id":7}'));
    assert.equal(parsed.format, 'text');
    assert.deepEqual(parsed.examples, [
      { format: 'text', line: 1, text: 'hello world' },
      { format: 'text', line: 2, text: 'line\nbreak' },
    ]);
  });

  it('reads the prompt/completion format, with an empty prompt allowed', async () => {
    const parsed = await parseJsonlDataset(
      lines('{"prompt":"Q: 1+1\\nA:","completion":" 2"}', '{"completion":"x","prompt":""}'),
    );
    assert.equal(parsed.format, 'prompt-completion');
    assert.deepEqual(parsed.examples, [
      { format: 'prompt-completion', line: 1, prompt: 'Q: 1+1\nA:', completion: ' 2' },
      { format: 'prompt-completion', line: 2, prompt: '', completion: 'x' },
    ]);
  });

  it('reads the chat format', async () => {
    const parsed = await parseJsonlDataset(
      lines(
        '{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}',
        '{"messages":[{"role":"user","content":"ü?","name":"x"},{"role":"assistant","content":"ja"}]}',
      ),
    );
    assert.equal(parsed.format, 'chat');
    assert.deepEqual(parsed.examples[1], {
      format: 'chat',
      line: 2,
      messages: [
        { role: 'user', content: 'ü?' },
        { role: 'assistant', content: 'ja' },
      ],
    });
  });

  it('numbers physical lines: skips blank lines, accepts CRLF, a BOM and no final newline', async () => {
    const parsed = await parseJsonlDataset('\ufeff{"text":"a"}\r\n\r\n   \n{"text":"b"}\r\n{"text":"c"}');
    assert.deepEqual(
      parsed.examples.map((e) => [e.line, e.format === 'text' ? e.text : '']),
      [
        [1, 'a'],
        [4, 'b'],
        [5, 'c'],
      ],
    );
  });

  it('streams from a Readable whose chunks split lines, CRLF pairs and multi-byte characters', async () => {
    const bytes = Buffer.from(lines('{"text":"naïve — ok"}\r', '{"text":"日本"}', '{"text":"z"}'));
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 3) chunks.push(bytes.subarray(i, i + 3));
    const parsed = await parseJsonlDataset(Readable.from(chunks));
    assert.deepEqual(
      parsed.examples.map((e) => (e.format === 'text' ? e.text : '')),
      ['naïve — ok', '日本', 'z'],
    );
  });

  it('yields examples before the whole source is read', async () => {
    let produced = 0;
    async function* source(): AsyncGenerator<string> {
      for (;;) {
        produced++;
        yield '{"text":"again"}\n';
      }
    }
    const iterator = iterateJsonlDataset(source());
    for (let i = 0; i < 3; i++) await iterator.next();
    await iterator.return(undefined);
    assert.ok(produced <= 4, `${produced} chunks read for 3 examples`);
  });

  it('takes a required format instead of detecting it', async () => {
    const parsed = await parseJsonlDataset(lines('{"text":"a"}'), { format: 'text' });
    assert.equal(parsed.format, 'text');
  });
});

interface Malformed {
  readonly name: string;
  readonly source: LineSource;
  readonly options?: JsonlParseOptions;
  readonly line: number;
  readonly message: RegExp;
}

const pc = (prompt: string, completion: string): string => JSON.stringify({ prompt, completion });
const chat = (...messages: unknown[]): string => JSON.stringify({ messages });
const user = { role: 'user', content: 'hi' };
const assistant = { role: 'assistant', content: 'hello' };

const malformed: Malformed[] = [
  {
    name: 'invalid JSON at line 7',
    source: lines(...Array.from({ length: 6 }, () => '{"text":"ok"}'), '{"text": "unterminated}'),
    line: 7,
    message: /^line 7: invalid JSON/,
  },
  {
    name: 'missing "completion" at line 3',
    source: lines(pc('a', 'b'), pc('c', 'd'), '{"prompt":"e"}'),
    line: 3,
    message: /^line 3: missing "completion"$/,
  },
  {
    name: 'missing "prompt"',
    source: lines(pc('a', 'b'), '{"completion":"e"}'),
    line: 2,
    message: /^line 2: missing "prompt"$/,
  },
  {
    name: 'mixed formats (text after prompt/completion)',
    source: lines(pc('a', 'b'), pc('c', 'd'), '', '{"text":"x"}'),
    line: 4,
    message:
      /^line 4: mixed formats: this record is text but line 1 set the dataset's format, which is prompt-completion$/,
  },
  {
    name: 'mixed formats (chat after text)',
    source: lines('{"text":"x"}', chat(user, assistant)),
    line: 2,
    message: /^line 2: mixed formats: this record is chat/,
  },
  { name: 'empty file', source: '', line: 0, message: /^empty file/ },
  { name: 'file of blank lines', source: '\n  \r\n\n', line: 0, message: /^empty file/ },
  {
    name: 'line over the size limit',
    source: lines('{"text":"short"}', JSON.stringify({ text: 'x'.repeat(200) })),
    options: { maxLineBytes: 100 },
    line: 2,
    message: /^line 2: longer than the limit of 100 bytes$/,
  },
  {
    name: 'too many lines',
    source: lines('{"text":"1"}', '{"text":"2"}', '', '{"text":"3"}', '{"text":"4"}'),
    options: { maxExamples: 3 },
    line: 5,
    message: /^line 5: too many lines: the limit is 3 examples$/,
  },
  {
    name: 'non-string completion',
    source: lines(pc('a', 'b'), '{"prompt":"a","completion":42}'),
    line: 2,
    message: /^line 2: "completion" must be a string, got a number$/,
  },
  {
    name: 'null text',
    source: lines('{"text":null}'),
    line: 1,
    message: /^line 1: "text" must be a string, got null$/,
  },
  {
    name: 'non-string message content',
    source: lines(chat(user, assistant), chat(user, { role: 'assistant', content: { parts: ['x'] } })),
    line: 2,
    message: /^line 2: messages\[1\]\.content must be a string, got an object$/,
  },
  {
    name: 'unknown role',
    source: lines(chat(user, assistant), chat(user, assistant), chat({ role: 'robot', content: 'beep' }, assistant)),
    line: 3,
    message: /^line 3: messages\[0\]: unknown role "robot" \(expected system, user, assistant\)$/,
  },
  {
    name: 'missing role',
    source: lines(chat({ content: 'x' }, assistant)),
    line: 1,
    message: /^line 1: messages\[0\]: missing "role"$/,
  },
  {
    name: 'message not an object',
    source: lines(chat('hi', assistant)),
    line: 1,
    message: /^line 1: messages\[0\] must be an object, got a string$/,
  },
  {
    name: 'messages not an array',
    source: lines('{"messages":{"role":"user"}}'),
    line: 1,
    message: /^line 1: "messages" must be an array, got an object$/,
  },
  {
    name: 'empty messages',
    source: lines(chat(user, assistant), '{"messages":[]}'),
    line: 2,
    message: /^line 2: "messages" is empty$/,
  },
  {
    name: 'last message not the assistant',
    source: lines(chat(user, assistant, user)),
    line: 1,
    message: /^line 1: the last message must be the assistant's .*got "user"$/,
  },
  {
    name: 'a JSON array instead of an object',
    source: lines('{"text":"a"}', '["text","b"]'),
    line: 2,
    message: /^line 2: expected a JSON object, got an array$/,
  },
  {
    name: 'no format field',
    source: lines('{"input":"a","output":"b"}'),
    line: 1,
    message: /^line 1: no "text", "prompt"\/"completion" or "messages" field/,
  },
  {
    name: 'fields of two formats',
    source: lines('{"text":"a","prompt":"b","completion":"c"}'),
    line: 1,
    message: /^line 1: the record mixes fields of the text and prompt-completion formats$/,
  },
  {
    name: 'empty text',
    source: lines('{"text":"a"}', '{"text":"a"}', '{"text":""}'),
    line: 3,
    message: /^line 3: "text" is empty$/,
  },
  { name: 'empty completion', source: lines(pc('a', '')), line: 1, message: /^line 1: "completion" is empty$/ },
  {
    name: 'invalid UTF-8',
    source: Buffer.concat([Buffer.from('{"text":"a"}\n{"text":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]),
    line: 2,
    message: /^line 2: not valid UTF-8$/,
  },
  {
    name: 'format other than the required one',
    source: lines('{"text":"a"}'),
    options: { format: 'chat' },
    line: 1,
    message: /^line 1: mixed formats: this record is text but the required format is chat$/,
  },
];

describe('parseJsonlDataset: malformed files name the line and the problem', () => {
  for (const { name, source, options, line, message } of malformed) {
    it(name, async () => {
      await assert.rejects(parseJsonlDataset(source, options), (error: unknown) => {
        assert.ok(error instanceof PeftCoreError, String(error));
        assert.equal(error.code, 'DATASET_INVALID');
        assert.match(error.message, message);
        assert.equal(error.details?.line, line);
        return true;
      });
    });
  }

  it('stops reading a line that never ends once it passes the limit', async () => {
    let produced = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        produced++;
        yield new Uint8Array(1024).fill(0x61);
      }
    }
    await assert.rejects(
      parseJsonlDataset(endless(), { maxLineBytes: 10_000 }),
      /^PeftCoreError: line 1: longer than the limit of 10000 bytes$/,
    );
    assert.ok(produced <= 10, `${produced} KiB read`);
  });

  it('rejects bad limits as invalid arguments', async () => {
    await assert.rejects(
      parseJsonlDataset('{"text":"a"}', { maxExamples: 0 }),
      (e: PeftCoreError) => e.code === 'INVALID_ARGUMENT',
    );
    await assert.rejects(
      parseJsonlDataset('{"text":"a"}', { maxLineBytes: 1.5 }),
      (e: PeftCoreError) => e.code === 'INVALID_ARGUMENT',
    );
  });
});
