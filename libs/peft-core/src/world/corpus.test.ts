import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../util/rng';
import { CORPUS_MARKERS, genericCorpus } from './corpus';
import { WORLD_TASKS } from './tasks';

describe('genericCorpus', () => {
  const corpus = genericCorpus(new Rng(21), 3000);

  it('is deterministic per seed', () => {
    assert.deepEqual(genericCorpus(new Rng(21), 50), corpus.slice(0, 50));
    assert.notDeepEqual(genericCorpus(new Rng(22), 50), corpus.slice(0, 50));
    assert.equal(corpus.length, 3000);
  });

  it('never uses a task marker, and its markers are not task markers', () => {
    const taskMarkers = new Set(WORLD_TASKS.map((t) => t.marker));
    for (const marker of Object.values(CORPUS_MARKERS)) assert.ok(!taskMarkers.has(marker), marker);
    for (const doc of corpus) {
      for (const ch of doc) assert.ok(!taskMarkers.has(ch), `document uses task marker ${ch}: ${JSON.stringify(doc)}`);
    }
  });

  it('teaches the prompt format, single and composite, with copy answers only', () => {
    const qa = corpus.filter((d) => d.startsWith('Q: '));
    assert.ok(qa.length > 1000, `${qa.length} Q/A documents`);
    let composites = 0;
    for (const doc of qa) {
      const [question, answer] = doc.slice(3).split('\nA: ');
      assert.ok(answer !== undefined, doc);
      const asked = question.split('\n');
      const answered = answer.split('\n');
      assert.equal(asked.length, answered.length, doc);
      if (asked.length > 1) composites++;
      asked.forEach((line, i) => {
        const prefix = asked.length > 1 ? `${i + 1}. ` : '';
        const match = new RegExp(`^${prefix.replace('.', '\\.')}([@=]) (.+)$`).exec(line);
        assert.ok(match, `question line ${JSON.stringify(line)}`);
        assert.equal(answered[i], prefix + match[2], 'the corpus answer copies the input');
      });
    }
    assert.ok(composites > 200, `${composites} composite documents`);
  });

  it('contains prose with lowercase, capital letters and digits, and documents stay short', () => {
    const text = corpus.join('\n');
    for (const pattern of [/[a-z]/, /[A-Z]/, /[0-9]/]) assert.match(text, pattern);
    assert.ok(
      corpus.some((d) => /^[A-Za-z0-9 ]+\.( [A-Za-z0-9 ]+\.)?$/.test(d)),
      'prose documents',
    );
    assert.ok(
      corpus.some((d) => /^[A-Z]+( [A-Z]+)+$/.test(d)),
      'capitals documents',
    );
    for (const doc of corpus) assert.ok(doc.length <= 200, `document of ${doc.length} chars`);
  });

  it('repeats passages word for word (the pure copy signal) and is dominated by copying', () => {
    const repeats = corpus.filter((d) => {
      const half = (d.length - 1) / 2;
      return Number.isInteger(half) && d[half] === ' ' && d.slice(0, half) === d.slice(half + 1) && d.endsWith('.');
    });
    assert.ok(repeats.length > 500, `${repeats.length} repeated passages`);
    const copying = repeats.length + corpus.filter((d) => d.startsWith('Q: ')).length;
    assert.ok(copying / corpus.length > 0.75, `copy documents are ${copying} of ${corpus.length}`);
  });
});
