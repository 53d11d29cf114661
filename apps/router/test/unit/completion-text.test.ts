import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CompletionText, type TokenDecoder } from '../../src/engine/completion-text';

/** Token i decodes to PIECES[i]; token 9 is half of a two-byte character (decodes to U+FFFD alone). */
const PIECES = ['he', 'llo', ' wo', 'rld', '!', ' st', 'op', 'ST', 'OP'];
const decoder: TokenDecoder = {
  decode: (ids) => {
    let text = '';
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === 9) text += ids[i + 1] === 10 ? 'é' : '\uFFFD';
      else if (ids[i] === 10 && ids[i - 1] === 9) continue;
      else text += PIECES[ids[i]!]!;
    }
    return text;
  },
};

function run(tokens: number[], stop: string[]): { deltas: string[]; stopped: boolean; text: string; flushed: string } {
  const t = new CompletionText(decoder, stop);
  const deltas: string[] = [];
  let stopped = false;
  for (const token of tokens) {
    const r = t.push(token);
    deltas.push(r.delta);
    if (r.stopped) {
      stopped = true;
      break;
    }
  }
  return { deltas, stopped, text: t.text, flushed: t.flush() };
}

describe('CompletionText', () => {
  it('emits text as it arrives when there is no stop sequence', () => {
    const r = run([0, 1, 2, 3], []);
    assert.deepEqual(r.deltas, ['he', 'llo', ' wo', 'rld']);
    assert.equal(r.text, 'hello world');
    assert.equal(r.flushed, '');
  });

  it('ends before a stop sequence that spans tokens, never emitting any of it', () => {
    const r = run([0, 1, 5, 6, 4], [' stop']);
    assert.equal(r.stopped, true);
    assert.equal(r.text, 'hello');
    assert.equal(r.deltas.join('') + r.flushed, 'hello');
    assert.ok(!r.deltas.join('').includes(' st'), 'the stop prefix was held back, not streamed');
  });

  it('releases held-back text when the stop sequence does not materialise', () => {
    const r = run([0, 5, 3], [' stop']);
    assert.equal(r.stopped, false);
    assert.deepEqual(r.deltas, ['he', '', ' strld']);
    assert.equal(r.text, 'he strld');
  });

  it('uses the earliest of several stop sequences', () => {
    const r = run([0, 1, 4, 7, 8], ['STOP', 'lo!']);
    assert.equal(r.text, 'hel');
  });

  it('holds back an incomplete UTF-8 character until it completes', () => {
    const t = new CompletionText(decoder, []);
    assert.equal(t.push(0).delta, 'he');
    assert.equal(t.push(9).delta, '');
    assert.equal(t.push(10).delta, 'é');
  });
});
