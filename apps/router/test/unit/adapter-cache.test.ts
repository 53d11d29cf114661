import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostTensor, type LoraWeights } from '@palette/peft-core';
import { AdapterCache, type AdapterCacheEvents } from '../../src/adapters/adapter-cache';

/** An adapter of exactly `floats` × 2 floats (A and B), i.e. 8·floats bytes. */
function adapter(floats: number): LoraWeights {
  const path = 'model.layers.0.self_attn.q_proj';
  return { modules: new Map([[path, { path, A: hostTensor([1, floats], new Float32Array(floats)), B: hostTensor([floats, 1], new Float32Array(floats)), scaling: 1 }]]) };
}

function recorder(): AdapterCacheEvents & { log: string[] } {
  const log: string[] = [];
  return { log, hit: (k) => log.push(`hit ${k}`), miss: (k) => log.push(`miss ${k}`), loaded: () => undefined, evicted: (k) => log.push(`evict ${k}`), bytes: () => undefined };
}

describe('AdapterCache', () => {
  it('evicts the least recently used idle entry to stay under budget', async () => {
    const events = recorder();
    const cache = new AdapterCache(2 * 800, events); // room for two 800-byte adapters
    for (const key of ['a', 'b']) (await cache.acquire(key, async () => adapter(100))).release();
    (await cache.acquire('a', async () => adapter(100))).release(); // a is now more recent than b
    (await cache.acquire('c', async () => adapter(100))).release();
    assert.deepEqual(cache.list().map((e) => e.key).sort(), ['a', 'c']);
    assert.ok(events.log.includes('evict b'));
    assert.ok(cache.bytes <= 1600);
  });

  it('never evicts pinned or leased entries (it may exceed the budget while they are in use)', async () => {
    const cache = new AdapterCache(800, recorder());
    await cache.pin('pinned', async () => adapter(100));
    const lease = await cache.acquire('busy', async () => adapter(100));
    assert.deepEqual(cache.list().map((e) => e.key).sort(), ['busy', 'pinned']);
    lease.release();
    assert.deepEqual(cache.list().map((e) => e.key), ['pinned']);
    assert.equal(cache.unload('pinned'), true);
    assert.equal(cache.unload('pinned'), false);
  });

  it('shares one load between concurrent misses and forgets failed loads', async () => {
    const events = recorder();
    const cache = new AdapterCache(10_000, events);
    let loads = 0;
    const load = async (): Promise<LoraWeights> => {
      loads += 1;
      await new Promise((r) => setTimeout(r, 5));
      return adapter(10);
    };
    const [x, y] = await Promise.all([cache.acquire('k', load), cache.acquire('k', load)]);
    assert.equal(loads, 1);
    assert.equal(x.weights, y.weights);
    await assert.rejects(cache.acquire('bad', async () => Promise.reject(new Error('registry down'))), /registry down/);
    assert.equal(cache.has('bad'), false);
    (await cache.acquire('bad', async () => adapter(10))).release();
    assert.equal(cache.has('bad'), true);
  });
});
