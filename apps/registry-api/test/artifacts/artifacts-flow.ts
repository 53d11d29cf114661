import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { BlobStore } from '@palette/object-store';
import type request from 'supertest';
import { ArtifactService } from '../../src/artifacts/artifact.service';
import { DatabaseService } from '../../src/database/database.service';
import { BLOB_STORE } from '../../src/storage/blob-store.provider';
import { BlobGcService } from '../../src/storage/blob-gc.service';
import { createTestApp, type TestApp, type TestAppOptions } from '../../src/testing';
import { buildAdapter, buildTinyBaseModel } from '../fixtures/peft-fixtures';
import { auth, binaryParser, listBlobs, uploadAdapter, uploadBaseModel } from '../helpers/catalog-client';
import { buildDiscriminatorFiles, buildRetrieverFiles, buildRouterFiles } from './artifact-fixtures';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export function uploadArtifact(t: TestApp, key: string, spec: unknown, files: ReadonlyMap<string, Buffer>): request.Test {
  let req = t.http.post('/api/v1/artifacts').set(auth(key)).field('spec', typeof spec === 'string' ? spec : JSON.stringify(spec));
  for (const [name, bytes] of files) req = req.attach(name, bytes, name);
  return req;
}

async function artifactRowCounts(t: TestApp): Promise<Record<string, number>> {
  const prisma = t.app.get(DatabaseService).prisma;
  const [artifacts, files, blobRefs, audit] = await Promise.all([prisma.artifact.count(), prisma.artifactFile.count(), prisma.blobRef.count(), prisma.auditLog.count({ where: { entityType: 'artifact' } })]);
  return { artifacts, files, blobRefs, audit };
}

/**
 * Artifacts over REST and GraphQL against the real app, once per blob store driver: uploads of each
 * kind, versions, byte-identical downloads, every rejected input (4xx naming the problem, no row,
 * no blob), job registration (re-hash, idempotency) and garbage collection.
 */
export function artifactsFlowSuite(label: string, options: TestAppOptions): void {
  describe(`artifacts (${label})`, () => {
    let t: TestApp;
    let writer: string;
    let reader: string;
    const router = buildRouterFiles({ baseModel: 'tiny-llama', experts: ['expert-a@1', 'expert-b@v1'] });

    before(async () => {
      t = await createTestApp(options);
      writer = await t.keyFor('writer');
      reader = await t.keyFor('reader');
      await uploadBaseModel(t, writer, 'tiny-llama', buildTinyBaseModel({ seed: 1 })).expect(201);
      await uploadBaseModel(t, writer, 'other-base', buildTinyBaseModel({ seed: 2 })).expect(201);
      for (const [name, base, seed] of [['expert-a', 'tiny-llama', 31], ['expert-b', 'tiny-llama', 32], ['alien', 'other-base', 33], ['doomed', 'tiny-llama', 34]] as const) {
        const files = buildAdapter({ seed, baseModelName: base });
        await uploadAdapter(t, writer, { fields: { name, baseModel: base }, config: files.config, weights: files.weights }).expect(201);
      }
    });
    after(async () => {
      await t?.close();
    });

    it('uploads a router, reads it back by name, id and listing, and serves byte-identical files', async () => {
      const res = await uploadArtifact(t, writer, { kind: 'router', name: 'math-router', description: 'two experts', metadata: { note: 'hand-made' } }, router).expect(201);
      const a = res.body;
      assert.equal(a.kind, 'router');
      assert.equal(a.version, 1);
      assert.equal(a.format, 'palette-router');
      assert.equal(a.baseModel.name, 'tiny-llama', 'base taken from router.json');
      assert.equal(a.metadata.note, 'hand-made');
      assert.deepEqual(a.metadata.manifest.experts, ['expert-a@1', 'expert-b@v1']);
      assert.deepEqual(
        a.files,
        [...router].map(([path, b]) => ({ path, sha256: sha(b), size: b.length })).sort((x, y) => x.path.localeCompare(y.path)),
      );

      const byName = await t.http.get('/api/v1/artifacts/router/math-router').set(auth(reader)).expect(200);
      assert.equal(byName.body.id, a.id);
      const byId = await t.http.get(`/api/v1/artifacts/id/${a.id}`).set(auth(reader)).expect(200);
      assert.deepEqual(byId.body, byName.body);
      for (const [path, bytes] of router) {
        const file = await t.http.get(`/api/v1/artifacts/id/${a.id}/files/${path}`).set(auth(reader)).buffer(true).parse(binaryParser).expect(200);
        assert.equal(file.headers['x-sha256'], sha(bytes));
        assert.ok(Buffer.compare(file.body as Buffer, bytes) === 0, `${path} byte-identical`);
      }
      const list = await t.http.get('/api/v1/artifacts?kind=router&baseModel=tiny-llama').set(auth(reader)).expect(200);
      assert.deepEqual(list.body.items.map((i: { id: string }) => i.id), [a.id]);
      const audit = await t.app.get(DatabaseService).prisma.auditLog.findMany({ where: { entityType: 'artifact', entityId: a.id } });
      assert.deepEqual(audit.map((r) => r.action), ['artifact.create']);
    });

    it('numbers versions per (kind, name), serves the latest by default and pages newest first', async () => {
      const v2files = buildRouterFiles({ baseModel: 'tiny-llama', experts: ['expert-a@latest', 'expert-b@1'], seed: 9 });
      const v2 = await uploadArtifact(t, writer, { kind: 'router', name: 'math-router', baseModel: 'tiny-llama' }, v2files).expect(201);
      assert.equal(v2.body.version, 2);
      assert.equal((await t.http.get('/api/v1/artifacts/router/math-router').set(auth(reader)).expect(200)).body.version, 2);
      assert.equal((await t.http.get('/api/v1/artifacts/router/math-router?version=1').set(auth(reader)).expect(200)).body.version, 1);
      const missing = await t.http.get('/api/v1/artifacts/router/math-router?version=7').set(auth(reader)).expect(404);
      assert.match(missing.body.error.message, /version 7 of router "math-router" not found/);
      assert.match((await t.http.get('/api/v1/artifacts/retriever/math-router').set(auth(reader)).expect(404)).body.error.message, /retriever "math-router" not found/);
      const page1 = await t.http.get('/api/v1/artifacts?name=math-router&limit=1').set(auth(reader)).expect(200);
      assert.deepEqual(page1.body.items.map((i: { version: number }) => i.version), [2]);
      const page2 = await t.http.get(`/api/v1/artifacts?name=math-router&limit=1&cursor=${page1.body.nextCursor}`).set(auth(reader)).expect(200);
      assert.deepEqual(page2.body.items.map((i: { version: number }) => i.version), [1]);
      assert.equal(page2.body.nextCursor, null);
    });

    it('uploads a retriever and a discriminator with their peft-core validators', async () => {
      const retriever = await uploadArtifact(t, writer, { kind: 'retriever', name: 'autolora' }, await buildRetrieverFiles()).expect(201);
      assert.equal(retriever.body.format, 'palette-retriever');
      assert.equal(retriever.body.baseModel, null);
      assert.match(retriever.body.metadata.manifest.space, /^autolora-v1-[0-9a-f]{12}$/);
      const disc = await uploadArtifact(t, writer, { kind: 'discriminator', name: 'expert-a-disc', adapterVersion: 'expert-a@v1' }, buildDiscriminatorFiles()).expect(201);
      assert.equal(disc.body.format, 'palette.trans-lora.discriminator/v1');
      assert.deepEqual({ adapter: disc.body.adapterVersion.adapter, version: disc.body.adapterVersion.version }, { adapter: 'expert-a', version: 1 });
      assert.equal(disc.body.baseModel.name, 'tiny-llama', "defaults to the adapter's base");
      const byAdapter = await t.http.get('/api/v1/artifacts?adapterVersion=expert-a@v1').set(auth(reader)).expect(200);
      assert.deepEqual(byAdapter.body.items.map((i: { name: string }) => i.name), ['expert-a-disc']);
    });

    it('rejects every bad upload with a 4xx naming the problem, leaving no row and no blob', async () => {
      const before = await artifactRowCounts(t);
      const blobsBefore = await listBlobs(t);
      const manifest = JSON.parse(router.get('router.json')!.toString());
      const withManifest = (m: unknown): Map<string, Buffer> => new Map([...router, ['router.json', Buffer.from(JSON.stringify(m))]]);
      const cases: Array<[string, request.Test, number, RegExp]> = [
        ['malformed manifest', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, new Map([...router, ['router.json', Buffer.from('{"format": "palette-router",')]])), 400, /router\.json is not valid UTF-8 JSON/],
        ['manifest fields', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, withManifest({ ...manifest, hyperparameters: { ...manifest.hyperparameters, topK: 0 } })), 400, /hyperparameters\.topK must be a positive integer/],
        ['unknown kind', uploadArtifact(t, writer, { kind: 'tokenizer', name: 'bad' }, router), 400, /'spec\.kind' must be one of router, retriever, discriminator/],
        ['spec not JSON', uploadArtifact(t, writer, '{kind: router', router), 400, /'spec' is not valid JSON/],
        ['no spec', (() => { let r = t.http.post('/api/v1/artifacts').set(auth(writer)); for (const [n, b] of router) r = r.attach(n, b, n); return r; })(), 400, /'spec' is required/],
        ['unknown base', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, buildRouterFiles({ baseModel: 'no-such-base', experts: ['expert-a@1', 'expert-b@1'] })), 404, /base model "no-such-base" \(named by router\.json\) not found/],
        ['spec base differs from manifest', uploadArtifact(t, writer, { kind: 'router', name: 'bad', baseModel: 'other-base' }, router), 400, /trained on base model "tiny-llama", not "other-base"/],
        ['expert of another base', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, buildRouterFiles({ baseModel: 'tiny-llama', experts: ['expert-a@1', 'alien@1'] })), 400, /router expert "alien@1" is an adapter of base model "other-base", not "tiny-llama"/],
        ['unknown expert', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, buildRouterFiles({ baseModel: 'tiny-llama', experts: ['expert-a@1', 'ghost@1'] })), 404, /router expert "ghost@1": adapter "ghost" not found/],
        ['unknown expert version', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, buildRouterFiles({ baseModel: 'tiny-llama', experts: ['expert-a@1', 'expert-b@v9'] })), 404, /version v9 of adapter "expert-b" not found/],
        ['missing tensor file', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, new Map([['router.json', router.get('router.json')!]])), 400, /missing router\.safetensors/],
        ['tensors of another artifact', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, new Map([...router, ['router.safetensors', buildRouterFiles({ baseModel: 'tiny-llama', experts: ['expert-a@1', 'expert-b@1'], seed: 77 }).get('router.safetensors')!]])), 400, /does not match the manifest's tensorsSha256/],
        ['extra file', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, new Map([...router, ['notes.txt', Buffer.from('hi')]])), 400, /unexpected notes\.txt/],
        ['file name with a slash', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, new Map([...router, ['../x', Buffer.from('hi')]])), 400, /unexpected file field '\.\.\/x'/],
        ['oversize manifest', uploadArtifact(t, writer, { kind: 'router', name: 'bad' }, new Map([...router, ['router.json', Buffer.alloc(t.config.maxConfigBytes + 1, 32)]])), 413, /file 'router\.json' exceeds the limit of \d+ bytes/],
        ['bad name', uploadArtifact(t, writer, { kind: 'router', name: '-nope' }, router), 400, /'spec\.name' must be 1-128 characters/],
        ['unknown spec field', uploadArtifact(t, writer, { kind: 'router', name: 'bad', colour: 'red' }, router), 400, /unknown fields: colour/],
        ['reserved metadata key', uploadArtifact(t, writer, { kind: 'router', name: 'bad', metadata: { manifest: 1 } }, router), 400, /'spec\.metadata\.manifest' is reserved/],
        ['discriminator without adapter version', uploadArtifact(t, writer, { kind: 'discriminator', name: 'bad', baseModel: 'tiny-llama' }, buildDiscriminatorFiles()), 400, /needs 'adapterVersion'/],
        ['discriminator of unknown adapter version', uploadArtifact(t, writer, { kind: 'discriminator', name: 'bad', adapterVersion: 'expert-a@v5' }, buildDiscriminatorFiles()), 404, /version v5 of adapter "expert-a" not found/],
        ['discriminator for other dimensions', uploadArtifact(t, writer, { kind: 'discriminator', name: 'bad', adapterVersion: 'expert-a@v1' }, buildDiscriminatorFiles({ hiddenSize: 32 })), 400, /hiddenSize 32; base model "tiny-llama" has hiddenSize 16/],
        ['retriever with edited tensors', uploadArtifact(t, writer, { kind: 'retriever', name: 'bad' }, new Map([...(await buildRetrieverFiles()), ['retriever.safetensors', (await buildRetrieverFiles(6)).get('retriever.safetensors')!]])), 400, /space id .* does not match its contents/],
        ['not multipart', t.http.post('/api/v1/artifacts').set(auth(writer)).send({ kind: 'router' }), 415, /expected a multipart\/form-data upload/],
      ];
      const failures: string[] = [];
      for (const [what, req, status, message] of cases) {
        const res = await req;
        if (res.status !== status || !message.test(res.body?.error?.message ?? '')) failures.push(`${what}: got ${res.status} ${JSON.stringify(res.body?.error?.message)}`);
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(await artifactRowCounts(t), before, 'no rows written');
      assert.deepEqual(await listBlobs(t), blobsBefore, 'no blobs left behind');
    });

    it('GraphQL reads the same artifacts', async () => {
      const res = await t.http
        .post('/graphql')
        .set(auth(reader))
        .send({ query: '{ artifact(kind: "router", name: "math-router", version: 1) { version format baseModel { name } files { path size } metadata } artifacts(kind: "router") { items { name version } nextCursor } }' })
        .expect(200);
      assert.equal(res.body.errors, undefined, JSON.stringify(res.body.errors));
      assert.equal(res.body.data.artifact.version, 1);
      assert.equal(res.body.data.artifact.baseModel.name, 'tiny-llama');
      assert.deepEqual(res.body.data.artifact.metadata.manifest.experts, ['expert-a@1', 'expert-b@v1']);
      assert.deepEqual(res.body.data.artifacts.items, [{ name: 'math-router', version: 2 }, { name: 'math-router', version: 1 }]);
      const bad = await t.http.post('/graphql').set(auth(reader)).send({ query: '{ artifact(kind: "nope", name: "x") { id } }' }).expect(200);
      assert.equal(bad.body.errors[0].extensions.code, 'VALIDATION_FAILED');
    });

    it('registers a job artifact from stored blobs once per job, re-hashing them', async () => {
      const service = t.app.get(ArtifactService);
      const store = t.app.get<BlobStore>(BLOB_STORE);
      const prisma = t.app.get(DatabaseService).prisma;
      const files = buildRouterFiles({ baseModel: 'tiny-llama', experts: ['expert-a@1', 'expert-b@1'], seed: 41 });
      for (const bytes of files.values()) await store.put(Readable.from([bytes]));
      const base = await prisma.baseModel.findUniqueOrThrow({ where: { name: 'tiny-llama' } });
      const input = {
        jobId: 'job-router-1',
        kind: 'router' as const,
        name: 'job-router',
        baseModelId: base.id,
        format: 'palette-router',
        metadata: { training: { steps: 3 } },
        files: [...files].map(([path, b]) => ({ path, sha256: sha(b), size: b.length })),
      };
      const first = await service.registerFromJob(input);
      assert.equal(first.created, true);
      assert.equal(first.artifact.jobId, 'job-router-1');
      assert.deepEqual(first.artifact.metadata, { training: { steps: 3 }, manifest: (first.artifact.metadata as { manifest: unknown }).manifest });
      const counts = await artifactRowCounts(t);
      const again = await service.registerFromJob({ ...input, name: 'renamed' });
      assert.deepEqual({ created: again.created, id: again.artifact.id }, { created: false, id: first.artifact.id });
      assert.deepEqual(await artifactRowCounts(t), counts);

      // Two concurrent registrations of one job: one artifact, both callers get it.
      const racing = await Promise.all([1, 2].map(() => service.registerFromJob({ ...input, jobId: 'job-router-2' })));
      assert.deepEqual(racing.map((r) => r.created).sort(), [false, true]);
      assert.equal(racing[0]!.artifact.id, racing[1]!.artifact.id);
      assert.equal(racing[0]!.artifact.version, 2, 'second version of job-router');
      const counts2 = await artifactRowCounts(t);

      const bad = (patch: object) => service.registerFromJob({ ...input, jobId: `job-bad-${Math.random()}`, ...patch });
      await assert.rejects(bad({ files: input.files.map((f) => ({ ...f, size: f.size + 1 })) }), /is \d+ bytes, not \d+/);
      await assert.rejects(bad({ files: input.files.map((f, i) => (i === 0 ? { ...f, sha256: 'f'.repeat(64) } : f)) }), /blob f{64} is not in the object store/);
      await assert.rejects(bad({ format: 'palette-retriever' }), /differs from what its files declare \(palette-router\)/);
      await assert.rejects(bad({ files: input.files.slice(0, 1) }), /missing router\.safetensors/);
      await assert.rejects(bad({ kind: 'tokenizer' }), /'artifact\.kind' must be one of/);
      assert.deepEqual(await artifactRowCounts(t), counts2);
    });

    it('soft delete hides an artifact from names and listings, keeps it by id, and GC keeps its files', async () => {
      const admin = t.adminKey;
      const v2 = await t.http.get('/api/v1/artifacts/router/math-router?version=2').set(auth(reader)).expect(200);
      await t.http.delete(`/api/v1/artifacts/id/${v2.body.id}`).set(auth(writer)).expect(403);
      const deleted = await t.http.delete(`/api/v1/artifacts/id/${v2.body.id}`).set(auth(admin)).expect(200);
      assert.ok(deleted.body.deletedAt);
      assert.equal((await t.http.get('/api/v1/artifacts/router/math-router').set(auth(reader)).expect(200)).body.version, 1, 'latest not deleted');
      await t.http.get('/api/v1/artifacts/router/math-router?version=2').set(auth(reader)).expect(404);
      const list = await t.http.get('/api/v1/artifacts?name=math-router').set(auth(reader)).expect(200);
      assert.deepEqual(list.body.items.map((i: { version: number }) => i.version), [1]);
      assert.ok((await t.http.get(`/api/v1/artifacts/id/${v2.body.id}`).set(auth(reader)).expect(200)).body.deletedAt);

      // A blob nobody references goes; every artifact file (deleted artifact's too) stays.
      const store = t.app.get<BlobStore>(BLOB_STORE);
      const orphan = Buffer.from('orphan blob');
      await store.put(Readable.from([orphan]));
      await t.app.get(BlobGcService).collect(null, { graceMs: 0 });
      const remaining = new Set(await listBlobs(t));
      assert.ok(!remaining.has(sha(orphan)), 'orphan collected');
      const files = await t.app.get(DatabaseService).prisma.artifactFile.findMany({ select: { sha256: true } });
      assert.ok(files.length >= 8);
      for (const f of files) assert.ok(remaining.has(f.sha256), `artifact file ${f.sha256} kept`);
      const file = await t.http.get(`/api/v1/artifacts/id/${v2.body.id}/files/router.json`).set(auth(reader)).expect(200);
      assert.equal(file.headers['x-sha256'], v2.body.files.find((f: { path: string }) => f.path === 'router.json').sha256);
      await t.http.get(`/api/v1/artifacts/id/${v2.body.id}/files/README.md`).set(auth(reader)).expect(404);
      await t.http.get('/api/v1/artifacts/id/not-a-uuid').set(auth(reader)).expect(404);
    });

    it('a purged adapter takes its discriminators and their blob references with it', async () => {
      const admin = t.adminKey;
      const prisma = t.app.get(DatabaseService).prisma;
      const files = buildDiscriminatorFiles({ seed: 55 });
      const disc = await uploadArtifact(t, writer, { kind: 'discriminator', name: 'doomed-disc', adapterVersion: 'doomed@v1' }, files).expect(201);
      assert.equal(await prisma.blobRef.count({ where: { ownerType: 'artifact', ownerId: disc.body.id } }), 3);
      await t.http.delete('/api/v1/adapters/doomed').set(auth(writer)).expect(200);
      await t.http.post('/api/v1/adapters/doomed/purge').set(auth(admin)).expect(200);
      await t.http.get(`/api/v1/artifacts/id/${disc.body.id}`).set(auth(reader)).expect(404);
      assert.equal(await prisma.blobRef.count({ where: { ownerType: 'artifact', ownerId: disc.body.id } }), 0);
      await t.app.get(BlobGcService).collect(null, { graceMs: 0 });
      const remaining = new Set(await listBlobs(t));
      assert.ok(!remaining.has(sha(files.get('adapter_model.safetensors')!)), "the discriminator's own weights are collected");
    });
  });
}
