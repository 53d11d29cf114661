/**
 * Learned retrieval in the registry, end to end over HTTP with a real PGlite + pgvector, a real blob
 * store and onnxruntime: a tiny base model, a synthetic world of 4 tasks × 3 adapters (task
 * direction + noise; captions = words of the task's vocabulary), a retriever trained here with
 * peft-core's trainRetriever, registered as an artifact and installed as the base's active space.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  BaseModelTextEncoder,
  baseModelTextEncoderId,
  encoderLayoutFor,
  parseModelConfig,
  readPeftAdapter,
  trainRetriever,
  writeRetrieverArtifact,
  type LoraWeights,
} from '@palette/peft-core';
import { readSafetensors } from '@palette/peft-core/formats/safetensors';
import { runVectorSearch } from '../../src/catalog/search/vector-search.query';
import { DatabaseService } from '../../src/database/database.service';
import { vectorLiteral } from '../../src/database/vectors';
import { EmbeddingSpacesService } from '../../src/retrieval/embedding-spaces.service';
import { createTestApp, type TestApp } from '../../src/testing';
import { auth, uploadAdapter, uploadBaseModel } from '../helpers/catalog-client';
import { BASE, TARGETS, TASKS, buildSyntheticWorld, words } from './synthetic-world';

const PER_TASK = 3;
const { tokenizer, baseFiles, configBytes, taskAdapterWeights, caption } = buildSyntheticWorld(11);

describe('retrieval: embedding spaces, embed hook, text and similarity search', () => {
  let t: TestApp;
  let admin: string;
  let writer: string;
  let reader: string;
  let scratch: string;
  const loras = new Map<string, { task: number; weights: LoraWeights }>();

  async function trainAndRegister(seed: number, name: string): Promise<string> {
    const config = parseModelConfig(JSON.parse(baseFiles.get('config.json')!.toString('utf8')));
    const st = readSafetensors(new Uint8Array(baseFiles.get('model.safetensors')!));
    const weights = new Map([...st.tensors].map(([n, tt]) => [n, { shape: tt.shape, data: new Float32Array(new Uint8Array(tt.data).slice().buffer) }]));
    const text = await BaseModelTextEncoder.create({
      config,
      weights: weights as never,
      tokenizer: { encode: (s: string) => tokenizer.encode(s, { addSpecialTokens: false }) },
      id: baseModelTextEncoderId(BASE, createHash('sha256').update(baseFiles.get('model.safetensors')!).digest('hex')),
      bosTokenId: tokenizer.bosTokenId!,
    });
    try {
      const artifact = await trainRetriever({
        adapters: [...loras].map(([id, a]) => ({ id, weights: a.weights, descriptions: Array.from({ length: 4 }, () => caption(a.task)) })),
        layout: encoderLayoutFor(config, TARGETS),
        textEncoder: text,
        options: { steps: 120, batchSize: 8, seed },
      });
      const dir = path.join(scratch, `retriever-${seed}`);
      await writeRetrieverArtifact(dir, artifact);
      let req = t.http.post('/api/v1/artifacts').set(auth(writer)).field('spec', JSON.stringify({ kind: 'retriever', name, baseModel: BASE }));
      for (const f of ['retriever.json', 'retriever.safetensors']) req = req.attach(f, readFileSync(path.join(dir, f)), f);
      const res = await req;
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    } finally {
      await text.dispose();
    }
  }

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'retrieval-test-'));
    t = await createTestApp();
    admin = t.adminKey;
    writer = await t.keyFor('writer');
    reader = await t.keyFor('reader');
    await uploadBaseModel(t, admin, BASE, baseFiles).expect(201);
    const config = parseModelConfig(JSON.parse(baseFiles.get('config.json')!.toString('utf8')));
    for (let task = 0; task < TASKS; task++) {
      for (let j = 0; j < PER_TASK; j++) {
        const name = `task${task}-a${j}`;
        const weights = taskAdapterWeights(task);
        await uploadAdapter(t, writer, { fields: { name, baseModel: BASE, description: words(task).slice(0, 4).join(' '), tags: `task-${task},synthetic` }, config: configBytes, weights }).expect(201);
        loras.set(name, { task, weights: readPeftAdapter({ configJson: new Uint8Array(configBytes), safetensors: new Uint8Array(weights) }, config).weights });
      }
    }
  });
  after(async () => {
    await t?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  let firstSpace: string;

  it('answers 409 for text search before any retriever is installed, and 4xx for bad queries', async () => {
    const none = await t.http.get('/api/v1/search/adapters').query({ q: 'w3 w4', baseModel: BASE }).set(auth(reader)).expect(409);
    assert.match(none.body.error.message, /no active embedding space/);
    assert.match((await t.http.get('/api/v1/search/adapters').set(auth(reader)).expect(400)).body.error.message, /'q' is required/);
    assert.match((await t.http.get('/api/v1/search/adapters').query({ q: 'x', k: 0 }).set(auth(reader)).expect(400)).body.error.message, /'k' must be an integer between 1 and 100/);
    assert.match((await t.http.get('/api/v1/search/adapters').query({ q: 'x', baseModel: 'nope' }).set(auth(reader)).expect(404)).body.error.message, /base model "nope" not found/);
    assert.match((await t.http.get('/api/v1/search/adapters').query({ q: 'x', tags: 'Bad Tag!' }).set(auth(reader)).expect(400)).body.error.message, /tag/);
    assert.match((await t.http.post('/api/v1/embedding-spaces').set(auth(admin)).send({ artifactId: 'x' }).expect(400)).body.error.message, /'artifactId' is required/);
    await t.http.post('/api/v1/embedding-spaces').set(auth(writer)).send({ artifactId: '00000000-0000-0000-0000-000000000000' }).expect(403);
  });

  it('installs a retriever: every version embedded, the space active', async () => {
    const artifactId = await trainAndRegister(1, 'synthetic-retriever');
    const res = await t.http.post('/api/v1/embedding-spaces').set(auth(admin)).send({ artifactId });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.status, 'active');
    assert.equal(res.body.weightEmbeddings, TASKS * PER_TASK);
    assert.equal(res.body.textEmbeddings, TASKS * PER_TASK);
    firstSpace = res.body.id;
    assert.match(firstSpace, /^autolora-v1-/);
  });

  it('text search returns the right adapters on the synthetic set', async () => {
    let right = 0;
    for (let task = 0; task < TASKS; task++) {
      const res = await t.http.get('/api/v1/search/adapters').query({ q: words(task).slice(2, 7).join(' '), baseModel: BASE, k: 3 }).set(auth(reader)).expect(200);
      assert.equal(res.body.space, firstSpace);
      assert.equal(res.body.items.length, 3);
      right += res.body.items.filter((h: { adapter: { name: string } }) => h.adapter.name.startsWith(`task${task}-`)).length;
    }
    assert.ok(right >= 10, `${right} of 12 retrieved adapters belong to the queried task`);
  });

  it('filtered search returns k rows, all matching the filter, with HNSW iterative scans and exactly', async () => {
    const res = await t.http.get('/api/v1/search/adapters').query({ q: words(0).join(' '), tags: 'task-2', k: 3 }).set(auth(reader)).expect(200);
    assert.equal(res.body.items.length, 3);
    assert.ok(res.body.items.every((h: { adapter: { tags: string[] } }) => h.adapter.tags.includes('task-2')));
    assert.equal(res.body.scan, 'exact'); // 12 candidates: far below the exact-scan threshold
    const db = t.app.get(DatabaseService);
    const z = (await db.prisma.$queryRaw<Array<{ v: string }>>`SELECT "vector"::text AS v FROM "Embedding" WHERE "space" = ${firstSpace} LIMIT 1`)[0]!.v;
    const executor = {
      query: <T>(sql: Parameters<typeof db.prisma.$queryRaw>[0]) => db.prisma.$queryRaw<T[]>(sql as never),
      transaction: <T>(fn: (q: { query<R>(sql: never): Promise<R[]>; exec(s: string): Promise<void> }) => Promise<T>) =>
        db.transaction((tx) => fn({ query: (sql) => tx.$queryRaw(sql), exec: async (s) => void (await tx.$executeRawUnsafe(s)) })),
    };
    const input = { vector: z, space: firstSpace, kind: 'weight' as const, tags: ['task-1'], limit: 3 };
    const hnsw = await runVectorSearch(executor as never, input, 'hnsw');
    const exact = await runVectorSearch(executor as never, input, 'exact');
    assert.equal(hnsw.hits.length, 3);
    assert.deepEqual(hnsw.hits.map((h) => h.versionId).sort(), exact.hits.map((h) => h.versionId).sort());
  });

  it('an upload after installation lands a vector in the active space', async () => {
    const weights = taskAdapterWeights(1);
    await uploadAdapter(t, writer, { fields: { name: 'late-task1', baseModel: BASE, description: words(1).slice(0, 4).join(' '), tags: 'task-1' }, config: configBytes, weights }).expect(201);
    await t.app.get(EmbeddingSpacesService).idle();
    const db = t.app.get(DatabaseService);
    const rows = await db.prisma.$queryRaw<Array<{ kind: string; space: string }>>`
      SELECT e."kind"::text AS kind, e."space" FROM "Embedding" e JOIN "AdapterVersion" v ON v."id" = e."adapterVersionId" JOIN "Adapter" a ON a."id" = v."adapterId"
      WHERE a."name" = 'late-task1' ORDER BY 1, 2`;
    assert.deepEqual(rows, [
      { kind: 'text', space: firstSpace },
      { kind: 'weight', space: firstSpace },
      { kind: 'weight', space: 'sketch-v1' },
    ]);
    loras.set('late-task1', { task: 1, weights: readPeftAdapter({ configJson: new Uint8Array(configBytes), safetensors: new Uint8Array(weights) }).weights });
  });

  it('retraining switches the active space atomically; queries use only the new space', async () => {
    const artifactId = await trainAndRegister(2, 'synthetic-retriever');
    const res = await t.http.post('/api/v1/embedding-spaces').set(auth(admin)).send({ artifactId }).expect(201);
    const second = res.body.id as string;
    assert.notEqual(second, firstSpace);
    assert.equal(res.body.weightEmbeddings, TASKS * PER_TASK + 1);
    const spaces = (await t.http.get('/api/v1/embedding-spaces').query({ baseModel: BASE }).set(auth(reader)).expect(200)).body as Array<{ id: string; status: string }>;
    assert.deepEqual(spaces.map((s) => [s.id, s.status]), [[second, 'active'], [firstSpace, 'retired']]);

    const search = await t.http.get('/api/v1/search/adapters').query({ q: words(3).join(' '), baseModel: BASE, k: 5 }).set(auth(reader)).expect(200);
    assert.equal(search.body.space, second);
    const similar = await t.http.get('/api/v1/adapters/task0-a0/similar').query({ limit: 5 }).set(auth(reader)).expect(200);
    assert.equal(similar.body.space, second);
    // Every score is the cosine against the NEW space's vectors (a mixed comparison would not reproduce them).
    const db = t.app.get(DatabaseService);
    for (const hit of similar.body.items as Array<{ adapter: { name: string }; score: number; version: number }>) {
      const [row] = await db.prisma.$queryRaw<Array<{ cos: number }>>`
        SELECT (1 - (e."vector" <=> src."vector"))::float8 AS cos
        FROM "Embedding" e JOIN "AdapterVersion" v ON v."id" = e."adapterVersionId" JOIN "Adapter" a ON a."id" = v."adapterId",
             (SELECT e2."vector" FROM "Embedding" e2 JOIN "AdapterVersion" v2 ON v2."id" = e2."adapterVersionId" JOIN "Adapter" a2 ON a2."id" = v2."adapterId"
              WHERE a2."name" = 'task0-a0' AND e2."space" = ${second} AND e2."kind" = 'weight') src
        WHERE a."name" = ${hit.adapter.name} AND v."version" = ${hit.version} AND e."space" = ${second} AND e."kind" = 'weight'`;
      assert.ok(row && Math.abs(row.cos - hit.score) < 1e-5, `${hit.adapter.name}: ${hit.score} vs ${row?.cos}`);
    }
    // The same query vector against the retired space is not what the route answered.
    assert.ok(similar.body.items.length >= 3);
    const gql = await t.http
      .post('/graphql')
      .set(auth(reader))
      .send({ query: `{ searchAdapters(q: "${words(2).join(' ')}", baseModel: "${BASE}", k: 2) { space items { adapter { name } score } } }` })
      .expect(200);
    assert.equal(gql.body.data.searchAdapters.space, second);
    assert.equal(gql.body.data.searchAdapters.items.length, 2);
    void vectorLiteral;
  });
});
