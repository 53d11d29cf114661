import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeftCoreError } from '../../src/errors';
import { KvCache } from '../../src/model/kv-cache';
import { argmax, sampleToken } from '../../src/model/sampling';
import { Rng } from '../../src/util/rng';

describe('sampleToken', () => {
  const logits = Float32Array.from([0.5, 2.0, -1.0, 1.2, 1.9]);

  it('is greedy at temperature 0 (first index on ties)', () => {
    assert.equal(sampleToken(logits, {}, new Rng(1)), 1);
    assert.equal(argmax([3, 5, 5, 1]), 1);
  });

  it('draws with softmax frequencies at temperature 1', () => {
    const rng = new Rng(7);
    const counts = new Array<number>(logits.length).fill(0);
    const n = 20000;
    for (let i = 0; i < n; i++) counts[sampleToken(logits, { temperature: 1 }, rng)]! += 1;
    const z = [...logits].reduce((a, v) => a + Math.exp(v), 0);
    logits.forEach((v, i) => {
      const p = Math.exp(v) / z;
      assert.ok(Math.abs(counts[i]! / n - p) < 0.015, `token ${i}: frequency ${counts[i]! / n} vs probability ${p}`);
    });
  });

  it('top-k and top-p keep only the head of the distribution', () => {
    const rng = new Rng(3);
    const seenK = new Set<number>();
    const seenP = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      seenK.add(sampleToken(logits, { temperature: 3, topK: 2 }, rng));
      // p(1) ≈ 0.35 and p(4) ≈ 0.32 at T = 1: top-p 0.5 keeps exactly those two.
      seenP.add(sampleToken(logits, { temperature: 1, topP: 0.5 }, rng));
    }
    assert.deepEqual([...seenK].sort(), [1, 4]);
    assert.deepEqual([...seenP].sort(), [1, 4]);
  });
});

describe('KvCache', () => {
  it('appends slot-major steps, feeds the filled prefix, grows, and drops rows in place', () => {
    const cache = new KvCache(1, 3, 1, 2, 1); // 3 rows, 1 kv head of dim 2, room for 1 slot
    const step = (base: number): Float32Array => Float32Array.from({ length: 6 }, (_, i) => base + i);
    cache.append([step(0)], [step(100)], 1);
    cache.append([step(10)], [step(110)], 1); // grows past capacity 1
    assert.equal(cache.length, 2);
    const key = cache.feeds()['past.0.key']!;
    assert.deepEqual(key.shape, [2, 3, 1, 2]);
    assert.deepEqual([...(key.data as Float32Array)], [0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]);
    cache.keepRows([0, 2]);
    assert.deepEqual(cache.feeds()['past.0.key']!.shape, [2, 2, 1, 2]);
    assert.deepEqual([...(cache.feeds()['past.0.key']!.data as Float32Array)], [0, 1, 4, 5, 10, 11, 14, 15]);
    assert.deepEqual([...(cache.feeds()['past.0.value']!.data as Float32Array)], [100, 101, 104, 105, 110, 111, 114, 115]);
    assert.throws(() => cache.keepRows([1, 0]), PeftCoreError);
  });
});
