import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CatalogReadCache, catalogCacheTtlFor } from '../../src/catalog/cache/catalog-read-cache';

describe('CatalogReadCache', () => {
  it('serves repeated reads from one load and shares an in-flight load', async () => {
    const cache = new CatalogReadCache(1000, 10);
    let loads = 0;
    const load = async () => ++loads;
    const [a, b] = await Promise.all([cache.read('k', load), cache.read('k', load)]);
    assert.deepEqual([a, b, await cache.read('k', load)], [1, 1, 1]);
    assert.equal(loads, 1);
    assert.deepEqual([cache.hits, cache.misses], [2, 1]);
  });

  it('reloads after invalidate(), and a load in flight during invalidate is not kept', async () => {
    const cache = new CatalogReadCache(1000, 10);
    let release!: (v: string) => void;
    const slow = cache.read('k', () => new Promise<string>((r) => (release = r)));
    cache.invalidate();
    release('stale');
    assert.equal(await slow, 'stale');
    assert.equal(await cache.read('k', async () => 'fresh'), 'fresh');
  });

  it('expires entries after the TTL', async () => {
    let now = 0;
    const cache = new CatalogReadCache(100, 10, () => now);
    await cache.read('k', async () => 'old');
    now = 99;
    assert.equal(await cache.read('k', async () => 'new'), 'old');
    now = 100;
    assert.equal(await cache.read('k', async () => 'new'), 'new');
  });

  it('does not cache failures', async () => {
    const cache = new CatalogReadCache(1000, 10);
    await assert.rejects(cache.read('k', async () => Promise.reject(new Error('boom'))), /boom/);
    await Promise.resolve();
    assert.equal(await cache.read('k', async () => 'ok'), 'ok');
  });

  it('evicts the least recently used entry beyond its capacity', async () => {
    const cache = new CatalogReadCache(1000, 2);
    await cache.read('a', async () => 1);
    await cache.read('b', async () => 2);
    await cache.read('a', async () => -1); // touch a
    await cache.read('c', async () => 3); // evicts b
    assert.equal(cache.size, 2);
    assert.equal(await cache.read('a', async () => -1), 1);
    assert.equal(await cache.read('b', async () => 20), 20);
  });

  it('needs no TTL on PGlite (single writer) but expires on Postgres', () => {
    assert.equal(catalogCacheTtlFor({ kind: 'pglite' }), Number.POSITIVE_INFINITY);
    assert.equal(catalogCacheTtlFor({ kind: 'postgres' }), 2000);
  });
});
