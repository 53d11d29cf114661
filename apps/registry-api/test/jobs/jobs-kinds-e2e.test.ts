/**
 * pretrain, train and evaluate end to end: the real registry (listening), a real redis-server and
 * an in-process trainer-worker registering results through the internal API with a service key,
 * on a tiny base (2 layers, hidden 16, context 64) and a few steps.
 * - pretrain registers a NEW base model with its files and pretraining metrics;
 * - evaluate without an adapter records the baseline on the base model; with a task-tagged adapter
 *   on the adapter version (evaluations + taskAccuracy); a repeated result POST changes nothing;
 * - blob GC run while a job is running keeps its checkpoint; after the retention it does not.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { BlobStore } from '@palette/object-store';
import type { TrainerWorker } from '@palette/trainer-worker';
import { createTestApp, type TestApp } from '../../src/testing';
import { DatabaseService } from '../../src/database';
import { JobCheckpointRefs, JOB_CHECKPOINT_OWNER } from '../../src/jobs/job-checkpoint-refs';
import { JobStateMirror } from '../../src/jobs/job-state-mirror';
import { BLOB_STORE } from '../../src/storage/blob-store.provider';
import { startRedisServer, type RedisServer } from '../../../../tools/testing/redis-server';
import { buildJobFixture, type JobFixture } from './job-fixtures';
import { startInProcessWorker } from '../helpers/in-process-worker';
import { finishedJob, waitFor } from '../helpers/job-waits';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });

let redis: RedisServer;
let t: TestApp;
let fx: JobFixture;
let writer: string;
let serviceKey: string;
let scratch: string;
let worker: TrainerWorker;
let datasetId: string;
const workerLog: string[] = [];

interface JobView {
  status: string;
  error: string | null;
  registered: { type: string; id?: string; name?: string } | null;
  result: unknown;
  progress: { checkpoint?: { step: number; manifest: string } };
}

const workerTail = (): string => workerLog.slice(-30).join('\n');

async function jobView(id: string): Promise<JobView> {
  return (await t.http.get(`/api/v1/jobs/${id}`).set(auth(writer)).expect(200)).body as JobView;
}

async function submit(id: string, spec: Record<string, unknown>): Promise<void> {
  const res = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', id).send(spec);
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

async function succeeded(id: string, timeoutMs = 60_000): Promise<JobView> {
  const job = await finishedJob<JobView>(t, writer, id, { timeoutMs, context: workerTail });
  assert.equal(job.status, 'succeeded', `${job.error}\n${workerTail()}`);
  return job;
}

describe('pretrain, train and evaluate jobs end to end (registry + Redis + in-process worker)', () => {
  before(async () => {
    [redis, fx] = await Promise.all([startRedisServer(), buildJobFixture(24)]);
    scratch = await mkdtemp(path.join(tmpdir(), 'palette-kinds-e2e-'));
    t = await createTestApp({ env: { REDIS_URL: redis.url } });
    await t.app.listen(0, '127.0.0.1');
    const baseUrl = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    writer = await t.keyFor('writer');
    serviceKey = await t.keyFor('service');
    let upload = t.http.post('/api/v1/base-models').set(auth(t.adminKey)).field('name', 'tiny-base');
    for (const [name, bytes] of fx.modelFiles) upload = upload.attach(name, bytes, name);
    await upload.expect(201);
    const ds = await t.http.post('/api/v1/datasets').set(auth(writer)).field('name', 'reverse-word').field('evalFraction', '0.1').attach('file', Buffer.from(fx.datasetJsonl), 'reverse.jsonl').expect(201);
    datasetId = ds.body.dataset.id;
    worker = await startInProcessWorker(t, { redisUrl: redis.url, registryUrl: baseUrl, serviceKey, dataDir: scratch, queues: 'pretrain,train,evaluate', progressIntervalMs: 100, cancelPollMs: 100, log: workerLog });
  });

  after(async () => {
    await worker?.shutdown();
    await t?.close();
    await redis?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('pretrain registers a new base model with its files, lineage and metrics, once', async () => {
    await submit('pre-e2e', { kind: 'pretrain', baseModel: 'tiny-base', corpus: { ref: datasetId }, output: { name: 'tiny-pretrained', description: 'pretrained in the e2e test' }, hyperparameters: { steps: 4, batchSize: 4, warmupSteps: 1 }, checkpointing: { everySteps: 2 } });
    const job = await succeeded('pre-e2e');
    assert.equal(job.registered?.type, 'base-model');
    assert.equal(job.registered?.name, 'tiny-pretrained');
    const base = await t.http.get('/api/v1/base-models/tiny-pretrained').set(auth(writer)).expect(200);
    const files = (base.body.files as Array<{ path: string; sha256: string }>).map((f) => f.path).sort();
    assert.deepEqual(files, ['config.json', 'model.safetensors', 'tokenizer.json']);
    const initial = await t.http.get('/api/v1/base-models/tiny-base').set(auth(writer)).expect(200);
    const sha = (body: { files: Array<{ path: string; sha256: string }> }, p: string) => body.files.find((f) => f.path === p)?.sha256;
    assert.equal(sha(base.body, 'tokenizer.json'), sha(initial.body, 'tokenizer.json'), 'tokenizer copied from the initial base');
    assert.notEqual(sha(base.body, 'model.safetensors'), sha(initial.body, 'model.safetensors'), 'the weights were trained');
    const p = base.body.metrics.pretraining as Record<string, unknown>;
    assert.equal(p.job, 'pre-e2e');
    assert.equal(p.initialBase, 'tiny-base');
    assert.match(String(p.corpus), /^[0-9a-f]{64}$/);
    assert.equal(p.steps, 4);
    assert.ok(Number.isFinite(p.finalLoss as number) && (p.tokensPerSecond as number) > 0, JSON.stringify(p));

    // The worker's idempotent re-post (e.g. after a lost response) registers nothing new.
    const repeat = await t.http.post('/api/v1/internal/jobs/pre-e2e/result').set(auth(serviceKey)).send({ jobId: 'pre-e2e', kind: 'pretrain', result: job.result }).expect(200);
    assert.equal(repeat.body.created, false);
    const gql = await t.http.post('/graphql').set(auth(writer)).send({ query: '{ baseModel(name: "tiny-pretrained") { name metrics } }' }).expect(200);
    assert.equal(gql.body.data.baseModel.metrics.pretraining.job, 'pre-e2e');
  });

  it('evaluate records a baseline on the base model and a task accuracy on a task-tagged adapter version', async () => {
    await submit('eval-base', { kind: 'evaluate', baseModel: 'tiny-base', task: { worldTask: 'reverse-word', examples: 4, splitSeed: 5, maxNewTokens: 4 } });
    await submit('train-e2e', { kind: 'train', baseModel: 'tiny-base', dataset: { ref: datasetId }, adapter: { name: 'reverse-lora', tags: ['task:reverse-word'] }, hyperparameters: { steps: 2, batchSize: 4, lora: { r: 2, alpha: 4 } } });
    const evalBase = await succeeded('eval-base');
    assert.equal(evalBase.registered?.type, 'evaluation');
    const base = await t.http.get('/api/v1/base-models/tiny-base').set(auth(writer)).expect(200);
    const entry = base.body.metrics.evaluations['reverse-word'] as Record<string, unknown>;
    assert.equal(entry.jobId, 'eval-base');
    assert.equal(entry.examples, 4);
    assert.equal(entry.splitSeed, 5);
    assert.ok(typeof entry.accuracy === 'number' && entry.accuracy >= 0 && entry.accuracy <= 1);

    await succeeded('train-e2e');
    await submit('eval-lora', { kind: 'evaluate', baseModel: 'tiny-base', adapter: 'reverse-lora@v1', task: { worldTask: 'reverse-word', examples: 4, maxNewTokens: 4 } });
    const evalLora = await succeeded('eval-lora');
    assert.equal(evalLora.registered?.name, 'reverse-lora@v1');
    const version = await t.http.get('/api/v1/adapters/reverse-lora/versions/v1').set(auth(writer)).expect(200);
    const m = version.body.metrics as { evaluations: Record<string, { jobId: string; accuracy: number }>; taskAccuracy: number; training: { job: string } };
    assert.equal(m.training.job, 'train-e2e', 'the training metrics are kept');
    assert.equal(m.evaluations['reverse-word']?.jobId, 'eval-lora');
    assert.equal(m.taskAccuracy, m.evaluations['reverse-word']?.accuracy);
    const job = await jobView('eval-lora');
    const repeat = await t.http.post('/api/v1/internal/jobs/eval-lora/result').set(auth(serviceKey)).send({ jobId: 'eval-lora', kind: 'evaluate', result: job.result }).expect(200);
    assert.equal(repeat.body.created, false);
    const prisma = t.app.get(DatabaseService).prisma;
    assert.equal(await prisma.auditLog.count({ where: { action: 'job.result.register', entityId: 'eval-lora' } }), 1);
  });

  it("blob GC while a job runs keeps its checkpoint; after the job ends and the retention passes it does not", async () => {
    await submit('gc-run', { kind: 'train', baseModel: 'tiny-base', dataset: { ref: datasetId }, adapter: { name: 'gc-lora' }, hyperparameters: { steps: 100_000, batchSize: 2, lora: { r: 2, alpha: 4 } }, checkpointing: { everySteps: 2 } });
    const prisma = t.app.get(DatabaseService).prisma;
    const ref = await waitFor('a retained checkpoint', async () => {
      await t.app.get(JobStateMirror).settled();
      const cp = (await jobView('gc-run')).progress.checkpoint;
      if (!cp) return undefined;
      const held = await prisma.blobRef.findFirst({ where: { ownerType: JOB_CHECKPOINT_OWNER, ownerId: 'gc-run', sha256: cp.manifest } });
      return held ? cp : undefined;
    }, 60_000, workerTail);
    const refs = await prisma.blobRef.findMany({ where: { ownerType: JOB_CHECKPOINT_OWNER, ownerId: 'gc-run' }, select: { sha256: true } });
    assert.ok(refs.length >= 2, 'the manifest and the files it names');
    const gc = await t.http.post('/api/v1/internal/blobs/gc?graceMs=0').set(auth(t.adminKey)).expect(200);
    const blobs = t.app.get<BlobStore>(BLOB_STORE);
    for (const r of refs) assert.ok(await blobs.has(r.sha256), `checkpoint blob ${r.sha256} survived GC (deleted: ${gc.body.deleted.length})`);
    assert.ok(!(gc.body.deleted as string[]).includes(ref.manifest));

    await t.http.post('/api/v1/jobs/gc-run/cancel').set(auth(writer)).send({ reason: 'test over' }).expect(200);
    await waitFor('the job to be cancelled', async () => {
      await t.app.get(JobStateMirror).settled();
      return (await jobView('gc-run')).status === 'cancelled' ? true : undefined;
    }, 20_000, workerTail);
    const checkpoints = t.app.get(JobCheckpointRefs);
    assert.equal(await checkpoints.releaseExpired(), 0, 'kept for the retention after the job ended');
    const released = await checkpoints.releaseExpired({ now: Date.now() + 60_000, retentionMs: 1000 });
    assert.ok(released >= 2, `released ${released}`);
    const after = await t.http.post('/api/v1/internal/blobs/gc?graceMs=0').set(auth(t.adminKey)).expect(200);
    assert.ok((after.body.deleted as string[]).includes(ref.manifest), 'collectable once released');
  });
});
