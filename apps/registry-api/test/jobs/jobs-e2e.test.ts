/**
 * Training jobs end to end: the real registry (listening on a port), a real redis-server and two
 * trainer-worker processes registering results through the internal API with a service key.
 * - 3 jobs submitted and followed over SSE all succeed; their adapters appear in the catalog with
 *   lineage (base_model, job, dataset) and training metrics;
 * - a cancelled job stops within 5 s and registers nothing;
 * - a worker SIGKILLed mid-job: the other resumes from the checkpoint, finishes, and exactly one
 *   adapter version is registered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createTestApp, type TestApp } from '../../src/testing';
import { DatabaseService } from '../../src/database';
import { startRedisServer, type RedisServer } from '../../../../tools/testing/redis-server';
import { buildJobFixture, type JobFixture } from './job-fixtures';
import { openSse, type SseEvent, type SseStream } from './sse-client';
import { finishedJob, waitFor } from '../helpers/job-waits';

const ROOT = path.resolve(__dirname, '../../../..');
const RUN_TS = path.join(ROOT, 'tools/run-ts.js');
const WORKER_MAIN = path.join(ROOT, 'apps/trainer-worker/src/main.ts');
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

interface WorkerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** SIGKILLs the worker's whole process group (run-ts.js and the worker it runs). */
  kill(): void;
  readonly exited: Promise<number | null>;
  output(): string;
}

let redis: RedisServer;
let t: TestApp;
let fx: JobFixture;
let baseUrl: string;
let writer: string;
let scratch: string;
const workers: WorkerProcess[] = [];

async function spawnWorker(name: string, serviceKey: string): Promise<WorkerProcess> {
  const blobRoot = t.config.blobStore.driver === 'dir' ? t.config.blobStore.root : '';
  let output = '';
  const child = spawn(process.execPath, [RUN_TS, WORKER_MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL: redis.url,
      DATA_DIR: path.join(scratch, name),
      BLOB_STORE: 'dir',
      BLOB_DIR: blobRoot,
      REGISTRY_URL: baseUrl,
      SERVICE_KEY: serviceKey,
      WORKER_QUEUES: 'train',
      WORKER_LOCK_DURATION_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      WORKER_PROGRESS_INTERVAL_MS: '100',
      WORKER_CANCEL_POLL_MS: '100',
      WORKER_INTRA_OP_THREADS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: run-ts.js runs the worker as a child, and a SIGKILL must reach both.
    detached: true,
  });
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      output += d.toString();
      if (output.includes('trainer-worker ready')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code} before it was ready:\n${output}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = (): void => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const worker: WorkerProcess = { name, child, kill, exited, output: () => `--- ${name} ---\n${output}` };
  workers.push(worker);
  await ready;
  return worker;
}

let datasetRef: string;

function trainSpec(adapter: string, steps: number, everySteps: number): Record<string, unknown> {
  return {
    kind: 'train',
    baseModel: 'tiny-base',
    dataset: { ref: datasetRef },
    adapter: { name: adapter, description: `reverses words (${adapter})`, tags: ['world', 'e2e'] },
    hyperparameters: { steps, batchSize: 4, lr: 5e-3, warmupSteps: 0, seed: 3, lora: { r: 4, alpha: 8 } },
    checkpointing: { everySteps },
  };
}

async function submit(id: string, spec: Record<string, unknown>): Promise<void> {
  const res = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', id).send(spec);
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

interface JobView {
  status: string;
  adapterVersion: string | null;
  progress: { phase?: string; step?: number; checkpoint?: { step: number } };
  result: { metrics?: { steps: number; resumedFromStep?: number; evalLoss?: number } } | null;
  metricHistory: Array<{ step: number; loss: number; tokensPerSecond: number }>;
  error: string | null;
}

async function jobView(id: string): Promise<JobView> {
  const res = await t.http.get(`/api/v1/jobs/${id}`).set(auth(writer)).expect(200);
  return res.body as JobView;
}

const workersOutput = (): string => workers.map((w) => w.output()).join('\n');

describe('training jobs end to end (registry + Redis + two worker processes)', () => {
  before(async () => {
    [redis, fx] = await Promise.all([startRedisServer(), buildJobFixture()]);
    scratch = await mkdtemp(path.join(tmpdir(), 'palette-jobs-e2e-'));
    t = await createTestApp({ env: { REDIS_URL: redis.url } });
    await t.app.listen(0, '127.0.0.1');
    baseUrl = await t.app.getUrl();
    baseUrl = baseUrl.replace('[::1]', '127.0.0.1');
    writer = await t.keyFor('writer');
    let upload = t.http.post('/api/v1/base-models').set(auth(t.adminKey)).field('name', 'tiny-base');
    for (const [name, bytes] of fx.modelFiles) upload = upload.attach(name, bytes, name);
    await upload.expect(201);
    const ds = await t.http.post('/api/v1/datasets').set(auth(writer)).field('name', 'reverse-word').field('evalFraction', '0.1').attach('file', Buffer.from(fx.datasetJsonl), 'reverse.jsonl').expect(201);
    datasetRef = ds.body.dataset.id;
    // The workers' service key, made through the keys API as the launcher does.
    const key = await t.http.post('/api/v1/keys').set(auth(t.adminKey)).send({ name: 'trainer-worker', role: 'service' }).expect(201);
    await Promise.all([spawnWorker('worker-a', key.body.key), spawnWorker('worker-b', key.body.key)]);
  });

  after(async () => {
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.exited));
    await t?.close();
    await redis?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('3 jobs followed over SSE all succeed; their adapters appear in the catalog with lineage and metrics', async () => {
    const ids = ['e2e-1', 'e2e-2', 'e2e-3'];
    const streams: SseStream[] = [];
    // Long enough that a stream opened after its job started still sees ≥ 2 progress events (100 ms
    // apart) on a loaded machine: at 40 steps one CI run beside a world build saw one.
    const trainSteps = 120;
    for (const [i, id] of ids.entries()) {
      await submit(id, trainSpec(`reverse-lora-${i + 1}`, trainSteps, 60));
      streams.push(await openSse(`${baseUrl}/api/v1/jobs/${id}/events`, writer));
    }
    const timeout = setTimeout(() => streams.forEach((s) => s.close()), 90_000);
    const allEvents = await Promise.all(streams.map((s) => s.done));
    clearTimeout(timeout);

    for (const [i, events] of allEvents.entries()) {
      const names = events.map((e) => e.event);
      assert.equal(names[0], 'state', `first event of ${ids[i]}: ${names.join(',')}`);
      assert.equal(names.at(-1), 'completed', `last event of ${ids[i]}: ${names.join(',')}\n${workers.map((w) => w.output()).join('\n')}`);
      // The final event waits for the mirror: its row already shows the outcome and registration.
      const finalRow = (events.at(-1)!.data as { job: { status: string; adapterVersion: string | null; progress: { step: number } } }).job;
      assert.equal(finalRow.status, 'succeeded');
      assert.equal(finalRow.adapterVersion, `reverse-lora-${i + 1}@v1`);
      const steps = events.filter((e): e is SseEvent & { data: { phase: string; step: number } } => e.event === 'progress' && (e.data as { phase: string }).phase === 'training').map((e) => e.data.step);
      assert.ok(steps.length >= 2, `${ids[i]} progress steps: ${steps.join(',')}`);
      assert.ok(steps.every((s, k) => k === 0 || s >= steps[k - 1]!), 'steps never go back');
    }

    const prisma = t.app.get(DatabaseService).prisma;
    for (const [i, id] of ids.entries()) {
      const job = await finishedJob<JobView>(t, writer, id, { timeoutMs: 10_000, context: workersOutput });
      const adapter = `reverse-lora-${i + 1}`;
      assert.equal(job.status, 'succeeded', job.error ?? '');
      assert.equal(job.adapterVersion, `${adapter}@v1`);
      assert.equal(job.result?.metrics?.steps, trainSteps);
      assert.ok(job.metricHistory.length >= 2 && job.metricHistory.every((p) => Number.isFinite(p.loss) && p.tokensPerSecond > 0));

      const version = await t.http.get(`/api/v1/adapters/${adapter}/versions/v1`).set(auth(writer)).expect(200);
      assert.equal(version.body.rank, 4);
      const lineage = await t.http.get(`/api/v1/adapters/${adapter}/versions/v1/lineage`).set(auth(writer)).expect(200);
      const edges = new Map((lineage.body.edges as Array<{ kind: string; ref: string }>).map((e) => [e.kind, e.ref]));
      assert.equal(edges.get('base_model'), 'tiny-base');
      assert.equal(edges.get('job'), id);
      assert.match(edges.get('dataset') ?? '', /^[0-9a-f]{64}$/);
      // The metrics are part of the version's API representation, as stored.
      const row = await prisma.adapterVersion.findUniqueOrThrow({ where: { id: version.body.id }, select: { metrics: true } });
      assert.deepEqual(version.body.metrics, row.metrics);
      const metrics = version.body.metrics as { evalLoss?: number; training?: { job: string; steps: number; finalLoss: number } };
      assert.equal(metrics.training?.job, id);
      assert.equal(metrics.training?.steps, trainSteps);
      assert.ok(Number.isFinite(metrics.evalLoss) && Number.isFinite(metrics.training?.finalLoss), JSON.stringify(metrics));
    }
    // Both workers took part (each runs one job at a time).
    const ran = workers.map((w) => ids.filter((id) => w.output().includes(`[train ${id}]`)).length);
    assert.ok(ran.every((n) => n > 0), `jobs per worker: ${ran.join(', ')}`);
  });

  it('a cancelled job stops within 5 s and registers nothing', async () => {
    await submit('e2e-cancel', trainSpec('cancelled-lora', 100_000, 1000));
    await waitFor('training to start', async () => ((await jobView('e2e-cancel')).progress.phase === 'training' ? true : undefined), 30_000, workersOutput);
    const stream = await openSse(`${baseUrl}/api/v1/jobs/e2e-cancel/events`, writer);
    const requested = Date.now();
    const res = await t.http.post('/api/v1/jobs/e2e-cancel/cancel').set(auth(writer)).send({ reason: 'stop now' }).expect(200);
    assert.ok(res.body.cancelRequestedAt !== null);
    const timeout = setTimeout(() => stream.close(), 15_000);
    const events = await stream.done;
    clearTimeout(timeout);
    const elapsed = Date.now() - requested;
    assert.equal(events.at(-1)?.event, 'cancelled', events.map((e) => e.event).join(','));
    assert.ok(elapsed < 5000, `stopped after ${elapsed} ms`);
    const job = await finishedJob<JobView>(t, writer, 'e2e-cancel', { timeoutMs: 5000, context: workersOutput });
    assert.equal(job.status, 'cancelled');
    assert.match(job.error ?? '', /cancelled: stop now/);
    assert.equal(job.adapterVersion, null);
    await t.http.get('/api/v1/adapters/cancelled-lora').set(auth(writer)).expect(404);
  });

  it('a worker SIGKILLed mid-job: the other resumes from its checkpoint, finishes, and one version is registered', async () => {
    const steps = 1500;
    await submit('e2e-crash', trainSpec('crash-lora', steps, 50));
    const atKill = await waitFor('a checkpoint', async () => {
      const p = (await jobView('e2e-crash')).progress;
      return p.checkpoint !== undefined && p.checkpoint.step >= 50 ? p : undefined;
    }, 60_000, workersOutput);
    const holder = workers.find((w) => w.output().includes('[train e2e-crash]'));
    assert.ok(holder, 'one worker runs the job');
    holder.kill();
    await holder.exited;
    const afterKill = await jobView('e2e-crash');
    assert.ok((afterKill.progress.step ?? 0) < steps, `still running when killed (step ${afterKill.progress.step})`);

    const job = await finishedJob<JobView>(t, writer, 'e2e-crash', { timeoutMs: 90_000, context: workersOutput });
    assert.equal(job.status, 'succeeded', `${job.error}\n${workers.map((w) => w.output()).join('\n')}`);
    assert.equal(job.result?.metrics?.steps, steps);
    const resumed = job.result?.metrics?.resumedFromStep ?? 0;
    assert.ok(resumed >= atKill.checkpoint!.step, `resumed at ${resumed}, checkpoint seen ${atKill.checkpoint!.step}\n${JSON.stringify(job.result)}\n${workers.map((w) => w.output()).join("\n")}`);
    const survivor = workers.find((w) => w !== holder)!;
    assert.match(survivor.output(), /\[train e2e-crash\] resumed from the checkpoint at step/);

    const versions = await t.http.get('/api/v1/adapters/crash-lora/versions').set(auth(writer)).expect(200);
    assert.equal(versions.body.length, 1, 'exactly one adapter version');
    const prisma = t.app.get(DatabaseService).prisma;
    assert.equal(await prisma.lineageEdge.count({ where: { kind: 'job', ref: 'e2e-crash' } }), 1);
    assert.equal(await prisma.auditLog.count({ where: { action: 'job.result.register', entityId: 'e2e-crash' } }), 1);
  });
});
