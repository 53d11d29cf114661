import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  RETRIEVER_FORMAT,
  RETRIEVER_FORMAT_VERSION,
  TEXT_PROJECTION_PARAM,
  readRetrieverArtifact,
  retrieverSpaceId,
  writeRetrieverArtifact,
  type RetrieverManifest,
} from '@palette/peft-core/retrieval/artifact';
import { initWeightEncoderParams, weightEncoderConfig } from '@palette/peft-core/retrieval/weight-encoder';
import { createTestApp, type TestApp } from '@palette/registry-api/testing/index';
import { loadRouterConfig } from '../../src/config/router-config';
import { materialiseArtifact } from '../../src/registry/artifact-files';
import { BlobReader } from '../../src/registry/blob-reader';
import { RegistryClient } from '../../src/registry/registry-client';

/** A tiny valid retriever directory written by peft-core (retrievers need no catalog references). */
async function writeTinyRetriever(dir: string, seed: number): Promise<void> {
  const encoder = weightEncoderConfig({ numLayers: 1, types: [{ name: 'q_proj', inDim: 4, outDim: 4 }] }, { probes: 1, width: 4, heads: 1, blocks: 1, ffnWidth: 4, outDim: 4 });
  const params = new Map<string, Float32Array>([
    ...initWeightEncoderParams(encoder, seed),
    [TEXT_PROJECTION_PARAM.weight, Float32Array.from({ length: 12 }, (_, i) => (i - 6) / 10)],
    [TEXT_PROJECTION_PARAM.bias, new Float32Array(4)],
  ]);
  const model = { format: RETRIEVER_FORMAT, version: RETRIEVER_FORMAT_VERSION, weightEncoder: encoder, text: { kind: 'onnx', encoderId: 'test', featureDim: 3 }, temperature: 0.07 } as const;
  const manifest: RetrieverManifest = { ...model, space: retrieverSpaceId(model, params), training: { steps: 1, batchSize: 2, lr: 0.01, seed, adapters: 2, captions: 2, finalLoss: 0.5 } };
  await writeRetrieverArtifact(dir, { manifest, params });
}

describe('router registry client: artifacts', () => {
  let registry: TestApp;
  let url: string;
  let scratch: string;
  let reader: string;
  const files = new Map<string, Buffer>();

  before(async () => {
    registry = await createTestApp();
    await registry.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(registry.app.getHttpServer().address() as AddressInfo).port}`;
    reader = await registry.keyFor('reader');
    scratch = await mkdtemp(path.join(tmpdir(), 'router-artifacts-'));
    const src = path.join(scratch, 'src');
    for (const [version, seed] of [[1, 1], [2, 2]]) {
      await writeTinyRetriever(src, seed);
      const form = new FormData();
      form.set('spec', JSON.stringify({ kind: 'retriever', name: 'autolora' }));
      for (const name of ['retriever.json', 'retriever.safetensors']) {
        const bytes = await readFile(path.join(src, name));
        if (version === 2) files.set(name, bytes);
        form.set(name, new Blob([new Uint8Array(bytes)]), name);
      }
      const res = await fetch(`${url}/api/v1/artifacts`, { method: 'POST', headers: { authorization: `Bearer ${await registry.keyFor('writer')}` }, body: form });
      assert.equal(res.status, 201, await res.text());
    }
  });
  after(async () => {
    await registry?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  for (const source of ['registry', 'blob-store'] as const) {
    it(`gets an artifact and materialises its files byte-identically (bytes via ${source})`, async () => {
      const store = registry.config.blobStore;
      const dataDir = path.join(scratch, `router-${source}`);
      const config = loadRouterConfig({
        REGISTRY_URL: url,
        REGISTRY_API_KEY: reader,
        DATA_DIR: dataDir,
        ...(source === 'registry' || store.driver !== 'dir' ? { ADAPTER_SOURCE: 'registry' } : { BLOB_STORE: 'dir', BLOB_DIR: store.root }),
      });
      const client = new RegistryClient(config);
      const latest = await client.getArtifact('retriever', 'autolora');
      assert.equal(latest?.version, 2);
      assert.equal(latest?.format, 'palette-retriever');
      assert.equal((await client.getArtifact('retriever', 'autolora', 1))?.version, 1);
      assert.equal(await client.getArtifact('retriever', 'autolora', 9), null);
      assert.equal(await client.getArtifact('router', 'autolora'), null);
      // Listing (what /v1/models reads): every version newest first, by kind, optionally by base.
      assert.deepEqual((await client.listArtifacts('retriever')).map((a) => `${a.name}@v${a.version}`), ['autolora@v2', 'autolora@v1']);
      assert.deepEqual(await client.listArtifacts('router'), []);
      assert.deepEqual(await client.listArtifacts('retriever', { baseModel: 'no-such-base' }), [], 'baseModel is passed to the registry');

      const dir = await materialiseArtifact(config.dataDir, latest!, client, new BlobReader(config));
      assert.equal(dir, path.join(dataDir, 'artifacts', 'retriever', `autolora-v2-${latest!.id}`));
      for (const [name, bytes] of files) assert.ok(Buffer.compare(await readFile(path.join(dir, name)), bytes) === 0, `${name} byte-identical`);
      const artifact = await readRetrieverArtifact(dir);
      assert.equal(artifact.manifest.space, (latest!.metadata.manifest as { space: string }).space);
      const before = (await stat(path.join(dir, 'retriever.safetensors'))).mtimeMs;
      await materialiseArtifact(config.dataDir, latest!, client, new BlobReader(config));
      assert.equal((await stat(path.join(dir, 'retriever.safetensors'))).mtimeMs, before, 'files already there are kept');
    });
  }
});
