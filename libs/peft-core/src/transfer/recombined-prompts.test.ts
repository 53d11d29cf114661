import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../util/rng';
import { recombinedPrompts } from './recombined-prompts';

const real = ['Q: [ 123\nA:', 'Q: [ 7\nA:', 'Q: [ 450\nA:', 'Q: [ 88\nA:'];

test('recombined prompts keep the shared start and end and join two real middles', () => {
  const out = recombinedPrompts(real, 10, new Rng(3));
  assert.equal(out.length, 10);
  assert.equal(new Set(out).size, out.length, 'distinct');
  const middles = ['123', '7', '450', '88'];
  for (const p of out) {
    assert.ok(p.startsWith('Q: [ ') && p.endsWith('\nA:'), JSON.stringify(p));
    assert.ok(!real.includes(p));
    const middle = p.slice('Q: [ '.length, -'\nA:'.length);
    const joined = middles.some((a) => middles.some((b) => a !== b && (middle === `${a} ${b}` || middle === `${a}${b}`)));
    assert.ok(joined, `two different real middles: ${JSON.stringify(middle)}`);
  }
  assert.ok(out.some((p) => p.includes(' ', 'Q: [ '.length)) && out.some((p) => !p.includes(' ', 'Q: [ '.length)), 'with and without a space');
  assert.deepEqual(recombinedPrompts(real, 10, new Rng(3)), out, 'reproducible');
});

test('recombined prompts: as many as the prompts allow, none from fewer than two prompts', () => {
  // Two middles give at most 4 joins (ab, a b, ba, b a).
  assert.equal(recombinedPrompts(['Q: % ab\nA:', 'Q: % cd\nA:'], 50, new Rng(1)).length, 4);
  assert.deepEqual(recombinedPrompts(['Q: % ab\nA:'], 5, new Rng(1)), []);
  assert.deepEqual(recombinedPrompts(real, 0, new Rng(1)), []);
});
