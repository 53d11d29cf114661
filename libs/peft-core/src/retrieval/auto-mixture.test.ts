import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { autoMixtureWeights, parseAutoModel, routeAuto } from './auto-mixture';
import { adapterCaptions, cardParagraphs, exampleCard } from './captions';

describe('auto routing decision', () => {
  it('parses auto and <base>:auto, and nothing else', () => {
    assert.deepEqual(parseAutoModel('auto'), {});
    assert.deepEqual(parseAutoModel('tiny:auto'), { base: 'tiny' });
    assert.equal(parseAutoModel('tiny:reverse'), undefined);
    assert.equal(parseAutoModel(':auto'), undefined);
    assert.equal(parseAutoModel('a:b:auto'), undefined);
  });

  it('weights the top k by softmax over cosine / T, best first', () => {
    const sel = autoMixtureWeights([{ id: 'c', score: 0.1 }, { id: 'a', score: 0.7 }, { id: 'b', score: 0.55 }, { id: 'd', score: 0.0 }], { k: 3, temperature: 0.05 });
    assert.deepEqual(sel.adapters.map((a) => a.id), ['a', 'b', 'c']);
    const [a, b, c] = sel.adapters.map((x) => x.weight);
    assert.ok(Math.abs(a! + b! + c! - 1) < 1e-12);
    assert.ok(Math.abs(a! / b! - Math.exp(0.15 / 0.05)) < 1e-9);
    assert.throws(() => autoMixtureWeights([{ id: 'a', score: 1 }], { k: 4 }), /k must be an integer from 1 to 3/);
    assert.throws(() => autoMixtureWeights([], {}), /no adapters/);
  });

  it('routeAuto embeds the trimmed prompt and asks for k', async () => {
    const seen: Array<[string, number]> = [];
    const sel = await routeAuto('  Q: % abc\nA:  ', async (q, k) => {
      seen.push([q, k]);
      return [{ id: 'x', score: 0.2 }];
    }, { k: 2 });
    assert.deepEqual(seen, [['Q: % abc\nA:', 2]]);
    assert.deepEqual(sel.adapters, [{ id: 'x', score: 0.2, weight: 1 }]);
  });
});

describe('captions', () => {
  it('splits description sentences, card paragraphs and examples, deduplicated', () => {
    const card = exampleCard('Reverse a word', 'Reverse the letters. Spell it backwards.', [{ prompt: 'Q: % abc\nA:', completion: ' cba' }, { prompt: 'Q: % xy\nA:', completion: ' yx' }]);
    assert.deepEqual(cardParagraphs(`---\nlicense: mit\n---\n${card}`), ['Reverse a word', 'Reverse the letters. Spell it backwards.', 'Examples', 'Q: % abc\nA: cba', 'Q: % xy\nA: yx']);
    const captions = adapterCaptions({ description: 'Reverse the letters. Spell it backwards.', card, title: 'Reverse a word', tags: ['world', 'reverse'] });
    assert.deepEqual(captions, ['Reverse the letters.', 'Spell it backwards.', 'Reverse a word', 'Reverse the letters. Spell it backwards.', 'Examples', 'Q: % abc\nA: cba', 'Q: % xy\nA: yx', 'world reverse']);
    assert.deepEqual(adapterCaptions({}), []);
  });
});
