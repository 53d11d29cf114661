/**
 * AdapterResolver against a real registry (booted in-process): once it knows an adapter's base
 * (from the start-up listing or an earlier lookup) a cold resolve asks the registry one question,
 * not two; unknown and soft-deleted adapters are still 404, and an adapter created after the
 * listing is resolved with both lookups.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdapterResolver } from '../../src/adapters/adapter-resolver';
import { RouterError } from '../../src/common/router-error';
import { loadRouterConfig } from '../../src/config/router-config';
import { RegistryClient } from '../../src/registry/registry-client';
import { RouterWorld, type UploadedBase } from '../support/router-world';

/** The real client, counting what it asks the registry. */
function countingClient(world: RouterWorld): { client: RegistryClient; calls: string[] } {
  const config = loadRouterConfig({ REGISTRY_URL: world.registryUrl, REGISTRY_API_KEY: world.readerKey, ADAPTER_SOURCE: 'registry' });
  const client = new RegistryClient(config);
  const calls: string[] = [];
  const adapter = client.adapter.bind(client);
  const adapterVersion = client.adapterVersion.bind(client);
  client.adapter = (name) => (calls.push(`adapter ${name}`), adapter(name));
  client.adapterVersion = (name, ref) => (calls.push(`version ${name}@${ref}`), adapterVersion(name, ref));
  return { client, calls };
}

function resolverFor(world: RouterWorld, client: RegistryClient): AdapterResolver {
  return new AdapterResolver(loadRouterConfig({ REGISTRY_URL: world.registryUrl, REGISTRY_API_KEY: world.readerKey, ADAPTER_SOURCE: 'registry' }), client);
}

describe('AdapterResolver', () => {
  let world: RouterWorld;
  let base: UploadedBase;

  before(async () => {
    world = await RouterWorld.start();
    base = await world.uploadBase({ name: 'resolver-base', seed: 3, dims: { hiddenSize: 32, intermediateSize: 64, numLayers: 1, numHeads: 2, numKvHeads: 1, headDim: 16 } });
    for (const name of ['listed-a', 'listed-b', 'to-delete']) await world.uploadAdapter({ name, base, r: 2, seed: name.length });
  });
  after(async () => {
    await world?.close();
  });

  it('asks only for the version of an adapter whose base it learned from the listing', async () => {
    const { client, calls } = countingClient(world);
    const resolver = resolverFor(world, client);
    resolver.learn(await client.adapters());
    const resolved = await resolver.resolve({ name: 'listed-a', ref: 'latest' }, 'model');
    assert.deepEqual(calls, ['version listed-a@latest']);
    assert.equal(resolved.baseModel, 'resolver-base');
    assert.equal(resolved.id, 'listed-a@v1');
    assert.match(resolved.weightsSha256, /^[0-9a-f]{64}$/);
  });

  it('looks up the base of an adapter it has not seen, once', async () => {
    const { client, calls } = countingClient(world);
    const resolver = resolverFor(world, client);
    await world.uploadAdapter({ name: 'created-later', base, r: 2, seed: 9 });
    assert.equal((await resolver.resolve({ name: 'created-later', ref: 'latest' }, 'model')).baseModel, 'resolver-base');
    assert.deepEqual(calls.sort(), ['adapter created-later', 'version created-later@latest']);
    calls.length = 0;
    // Another reference of the same adapter: the base is known, only the version is asked for.
    await resolver.resolve({ name: 'created-later', ref: 'v1' }, 'model');
    assert.deepEqual(calls, ['version created-later@v1']);
  });

  it('answers 404 for unknown adapters and for a soft-deleted adapter whose base it remembers', async () => {
    const { client } = countingClient(world);
    const resolver = resolverFor(world, client);
    resolver.learn(await client.adapters());
    const writer = await world.registry.keyFor('writer');
    const res = await fetch(`${world.registryUrl}/api/v1/adapters/to-delete`, { method: 'DELETE', headers: { authorization: `Bearer ${writer}` } });
    assert.equal(res.status, 200);
    const notFound = (error: unknown): boolean => error instanceof RouterError && error.code === 'adapter_not_found';
    await assert.rejects(resolver.resolve({ name: 'to-delete', ref: 'latest' }, 'model'), notFound);
    await assert.rejects(resolver.resolve({ name: 'never-uploaded', ref: 'latest' }, 'model'), notFound);
  });
});
