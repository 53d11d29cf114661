import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSse, SseParser } from '../../src/api/sse';

describe('SseParser', () => {
  it('parses named events, ids, multi-line data, and skips keep-alive comments', () => {
    const parser = new SseParser();
    const events = parser.push('id: 1\nevent: state\ndata: {"a":1}\n\n: keep-alive\n\ndata: line one\ndata: line two\n\n');
    assert.deepEqual(events, [
      { event: 'state', data: '{"a":1}', id: '1' },
      { event: 'message', data: 'line one\nline two' },
    ]);
  });

  it('holds an event split across chunks (and CRLF line ends) until it is complete', () => {
    const parser = new SseParser();
    assert.deepEqual(parser.push('event: progress\r\ndata: {"st'), []);
    assert.deepEqual(parser.push('ep":3}\r\n'), []);
    assert.deepEqual(parser.push('\r\ndata: [DONE]\n\n'), [
      { event: 'progress', data: '{"step":3}' },
      { event: 'message', data: '[DONE]' },
    ]);
  });
});

describe('readSse', () => {
  it('reads a streamed Response body event by event', async () => {
    const chunks = ['data: {"choices":[{"text":"he', 'llo"}]}\n\n', 'data: [DONE]\n\n'];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
        controller.close();
      },
    });
    const seen: string[] = [];
    await readSse(new Response(body), (e) => seen.push(e.data));
    assert.deepEqual(seen, ['{"choices":[{"text":"hello"}]}', '[DONE]']);
  });
});
