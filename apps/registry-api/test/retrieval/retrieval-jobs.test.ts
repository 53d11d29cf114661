/**
 * The retrieval jobs end to end: the real registry (listening, PGlite + pgvector), a real
 * redis-server and an in-process trainer-worker running `train-retriever` and `embed` on the
 * synthetic retrieval world (tiny base, 4 tasks × 3 adapters).
 * - train-retriever: submit-time 4xx (no Job row), then artifact + space + every version's vectors,
 *   active in one step; a repeated result POST registers nothing new;
 * - an upload afterwards ENQUEUES an embed job (one per (version, space)) whose result lands the
 *   vectors; embed result shape errors are 400s;
 * - retraining switches the active space; back-fill enqueues embed jobs for versions missing there.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { TrainerWorker } from '@palette/trainer-worker';
import { startRedisServer, type RedisServer } from '../../../../tools/testing/redis-server';
import { DatabaseService } from '../../src/database';
import { EmbeddingSpacesService, embedJobId } from '../../src/retrieval/embedding-spaces.service';
import { createTestApp, type TestApp } from '../../src/testing';
import { auth, uploadAdapter, uploadBaseModel } from '../helpers/catalog-client';
import { startInProcessWorker } from '../helpers/in-process-worker';
import { finishedJob } from '../helpers/job-waits';
import { BASE, TASKS, buildSyntheticWorld, words } from './synthetic-world';

const PER_TASK = 3;
const world = buildSyntheticWorld(11);

let redis: RedisServer;
let t: TestApp;
let worker: TrainerWorker;
let scratch: string;
let writer: string;
let reader: string;
let serviceKey: string;
const workerLog: string[] = [];

interface JobView {
  status: string;
  error: string | null;
  registered: { type: string; id?: string; name?: string; details?: Record<string, unknown> } | null;
  result: Record<string, unknown> | null;
  progress: { phase?: string };
}

const workerTail = (): string => workerLog.slice(-30).join('\n');

/** A finished job; a succeeded one only once its result is registered. */
async function finished(id: string, timeoutMs = 90_000): Promise<JobView> {
  const job = await finishedJob<JobView>(t, writer, id, { timeoutMs, context: workerTail, ready: (v) => v.status !== 'succeeded' || v.registered !== null });
  assert.equal(job.status, 'succeeded', `${job.error}\n${workerTail()}`);
  return job;
}

async function jobCount(): Promise<number> {
  return t.app.get(DatabaseService).prisma.job.count();
}

async function vectorsOf(adapter: string): Promise<Array<{ kind: string; space: string }>> {
  return t.app.get(DatabaseService).prisma.$queryRaw<Array<{ kind: string; space: string }>>`
    SELECT e."kind"::text AS kind, e."space" FROM "Embedding" e JOIN "AdapterVersion" v ON v."id" = e."adapterVersionId" JOIN "Adapter" a ON a."id" = v."adapterId"
    WHERE a."name" = ${adapter} AND e."space" <> 'sketch-v1' ORDER BY 2, 1`;
}

const upload = (name: string, task: number, description = words(task).slice(0, 4).join(' ')) =>
  uploadAdapter(t, writer, { fields: { name, baseModel: BASE, ...(description ? { description } : {}), tags: `task-${task},synthetic` }, config: world.configBytes, weights: world.taskAdapterWeights(task) }).expect(201);

const trainSpec = (seed: number) => ({ kind: 'train-retriever', name: 'synthetic-retriever', baseModel: BASE, options: { steps: 80, batchSize: 8, seed, lexicalBuckets: 256 } });

describe('retrieval jobs: train-retriever and embed (registry + Redis + in-process worker)', () => {
  before(async () => {
    redis = await startRedisServer();
    scratch = await mkdtemp(path.join(tmpdir(), 'palette-retrieval-jobs-'));
    t = await createTestApp({ env: { REDIS_URL: redis.url } });
    await t.app.listen(0, '127.0.0.1');
    const baseUrl = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    writer = await t.keyFor('writer');
    reader = await t.keyFor('reader');
    serviceKey = await t.keyFor('service');
    await uploadBaseModel(t, t.adminKey, BASE, world.baseFiles).expect(201);
    worker = await startInProcessWorker(t, { redisUrl: redis.url, registryUrl: baseUrl, serviceKey, dataDir: scratch, queues: 'train-retriever,embed', progressIntervalMs: 100, cancelPollMs: 100, log: workerLog });
  });

  after(async () => {
    await worker?.shutdown();
    await t?.close();
    await redis?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('refuses bad submissions with a 4xx naming the problem, and creates no job', async () => {
    const before = await jobCount();
    const post = (body: Record<string, unknown>) => t.http.post('/api/v1/jobs').set(auth(writer)).send(body);
    assert.match((await post({ ...trainSpec(1), baseModel: 'no-such-base' }).expect(404)).body.error.message, /base model "no-such-base" not found/);
    assert.match((await post({ ...trainSpec(1), options: { steps: 0, textFeatures: 'words' } }).expect(400)).body.error.message, /options\.steps: .*≥ 1.*options\.textFeatures/s);
    assert.match((await post({ ...trainSpec(1), options: { stepz: 3 } }).expect(400)).body.error.message, /options\.stepz/);
    assert.match((await post({ kind: 'train-retriever', baseModel: BASE }).expect(400)).body.error.message, /name: /);
    // One described adapter and one without any words: nothing to contrast.
    await upload('lonely-described', 0);
    await uploadAdapter(t, writer, { fields: { name: 'wordless', baseModel: BASE }, config: world.configBytes, weights: world.taskAdapterWeights(1) }).expect(201);
    const few = await post(trainSpec(1)).expect(400);
    assert.match(few.body.error.message, /baseModel: base model "tiny-llama" has 1 adapter version\(s\) with a description.*at least 2/);
    await t.http.post('/api/v1/jobs').set(auth(reader)).send(trainSpec(1)).expect(403);
    assert.equal(await jobCount(), before);
  });

  let firstSpace: string;

  it('train-retriever registers the artifact and activates its space with every version embedded', async () => {
    for (let task = 0; task < TASKS; task++) for (let j = 0; j < PER_TASK; j++) await upload(`task${task}-a${j}`, task);
    // Without an active space the uploads enqueued nothing.
    assert.equal(await t.app.get(DatabaseService).prisma.job.count({ where: { kind: 'embed' } }), 0);
    const res = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'retriever-1').send(trainSpec(1));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const job = await finished('retriever-1');
    assert.equal(job.registered?.type, 'artifact');
    assert.equal(job.registered?.name, 'retriever/synthetic-retriever@v1');
    firstSpace = job.registered?.details?.space as string;
    assert.match(firstSpace, /^autolora-v1-[0-9a-f]{12}$/);
    const versions = TASKS * PER_TASK + 2;
    assert.equal(job.registered?.details?.embedded, versions);

    const spaces = (await t.http.get('/api/v1/embedding-spaces').query({ baseModel: BASE }).set(auth(reader)).expect(200)).body as Array<Record<string, unknown>>;
    assert.equal(spaces.length, 1);
    assert.equal(spaces[0]!.status, 'active');
    assert.equal(spaces[0]!.jobId, 'retriever-1');
    assert.equal(spaces[0]!.weightEmbeddings, versions);
    assert.equal(spaces[0]!.textEmbeddings, versions - 1, 'the wordless adapter has no text vector');
    const artifact = (await t.http.get('/api/v1/artifacts/retriever/synthetic-retriever').set(auth(reader)).expect(200)).body;
    assert.equal(artifact.metadata.manifest.space, firstSpace);
    assert.equal(artifact.metadata.manifest.text.lexical.buckets, 256, 'the feature choice is in the manifest');

    // The space answers text queries (queries share 2 of 5 words with each task's description).
    let right = 0;
    for (let task = 0; task < TASKS; task++) {
      const hits = await t.http.get('/api/v1/search/adapters').query({ q: words(task).slice(2, 7).join(' '), baseModel: BASE, k: 3 }).set(auth(reader)).expect(200);
      assert.equal(hits.body.space, firstSpace);
      right += (hits.body.items as Array<{ adapter: { name: string } }>).filter((h) => h.adapter.name.startsWith(`task${task}-`)).length;
    }
    assert.ok(right >= 9, `${right} of 12 retrieved adapters belong to the queried task`);

    // The worker's idempotent re-post registers nothing new.
    const repeat = await t.http.post('/api/v1/internal/jobs/retriever-1/result').set(auth(serviceKey)).send({ jobId: 'retriever-1', kind: 'train-retriever', result: job.result }).expect(200);
    assert.equal(repeat.body.created, false);
    assert.equal(await t.app.get(DatabaseService).prisma.artifact.count({ where: { kind: 'retriever' } }), 1);
  });

  it('an upload enqueues one embed job whose result lands the vectors in the active space', async () => {
    await upload('late-task1', 1);
    await t.app.get(EmbeddingSpacesService).idle();
    const db = t.app.get(DatabaseService);
    const version = await db.prisma.adapterVersion.findFirstOrThrow({ where: { adapter: { name: 'late-task1' } }, select: { id: true } });
    const jobId = embedJobId(version.id, firstSpace);
    const job = await finished(jobId);
    assert.equal(job.registered?.details?.written, true);
    assert.deepEqual(await vectorsOf('late-task1'), [
      { kind: 'text', space: firstSpace },
      { kind: 'weight', space: firstSpace },
    ]);
    // Enqueueing again for the same (version, space) is a no-op.
    assert.equal(await t.app.get(EmbeddingSpacesService).enqueueEmbeds(firstSpace, [version.id]), 0);
    const repeat = await t.http.post(`/api/v1/internal/jobs/${jobId}/result`).set(auth(serviceKey)).send({ jobId, kind: 'embed', result: job.result }).expect(200);
    assert.equal(repeat.body.created, false);
    const bad = await t.http
      .post(`/api/v1/internal/jobs/${jobId}/result`)
      .set(auth(serviceKey))
      .send({ jobId, kind: 'embed', result: { ...job.result, dim: 3, weight: [1, 0, 0] } })
      .expect(400);
    assert.match(bad.body.error.message, /result\.dim: expected 256.*result\.weight: expected 256 finite numbers/);
  });

  it('retraining switches the active space; back-fill embeds versions missing from it', async () => {
    const res = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'retriever-2').send(trainSpec(2));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const job = await finished('retriever-2');
    const second = job.registered?.details?.space as string;
    assert.notEqual(second, firstSpace);
    const spaces = (await t.http.get('/api/v1/embedding-spaces').query({ baseModel: BASE }).set(auth(reader)).expect(200)).body as Array<{ id: string; status: string }>;
    assert.deepEqual(spaces.map((s) => [s.id, s.status]), [[second, 'active'], [firstSpace, 'retired']]);
    const search = await t.http.get('/api/v1/search/adapters').query({ q: words(3).join(' '), baseModel: BASE, k: 3 }).set(auth(reader)).expect(200);
    assert.equal(search.body.space, second);

    // A version missing from the new space (as if registered while it was built) is back-filled by an embed job.
    const db = t.app.get(DatabaseService);
    const version = await db.prisma.adapterVersion.findFirstOrThrow({ where: { adapter: { name: 'task2-a0' } }, select: { id: true } });
    await db.prisma.embedding.deleteMany({ where: { adapterVersionId: version.id, space: second } });
    assert.equal(await t.app.get(EmbeddingSpacesService).backfill(second), 1);
    await finished(embedJobId(version.id, second));
    assert.deepEqual((await vectorsOf('task2-a0')).filter((r) => r.space === second), [
      { kind: 'text', space: second },
      { kind: 'weight', space: second },
    ]);
  });
});
