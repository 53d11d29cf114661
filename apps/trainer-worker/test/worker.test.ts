/**
 * The worker end to end against a real redis-server and real tiny models: a train job with
 * progress and checkpoints, embed and evaluate on its adapter, cancellation, a SIGKILLed worker
 * process whose job another process resumes from the checkpoint, and a graceful SIGTERM.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { clearSessionCache } from '@palette/gpu-kernels';
import { readPeftAdapter, parseModelConfig } from '@palette/peft-core';
import {
  QUEUE_NAMES,
  parseJobPayload,
  parseLogLine,
  readJobProgress,
  requestJobCancellation,
  type JobInputs,
  type JobKind,
  type JobProgress,
  type TrainJobResult,
} from '@palette/job-contracts';
import { parseWorkerConfig, type WorkerConfig } from '../src/config';
import { readBlob } from '../src/blob-files';
import { redisConnectionOptions } from '@palette/job-contracts';
import { startTrainerWorker, type TrainerWorker } from '../src/worker-app';
import { startRedisServer, type RedisServer } from './redis-server';
import { startRegistryStub, type RegistryStub } from './registry-stub';
import { createWorldFixture, type WorldFixture } from './world-fixtures';

const MAIN = path.resolve(__dirname, '../src/main.ts');
const SERVICE_KEY = 'plt_test_service';
/** Steps of the jobs that are interrupted (a tiny model runs ~1–3 ms per step here). */
const CRASH_STEPS = 1500;

let redis: RedisServer;
let registry: RegistryStub;
let root: string;
let world: WorldFixture;
const queues = new Map<JobKind, Queue>();
let events: QueueEvents;

function env(): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    DATA_DIR: root,
    BLOB_STORE: 'dir',
    BLOB_DIR: world.blobDir,
    REGISTRY_URL: registry.url,
    SERVICE_KEY,
    WORKER_QUEUES: 'train,embed,evaluate',
    WORKER_LOCK_DURATION_MS: '2000',
    WORKER_STALLED_INTERVAL_MS: '1000',
    WORKER_PROGRESS_INTERVAL_MS: '100',
    WORKER_CANCEL_POLL_MS: '100',
    WORKER_INTRA_OP_THREADS: '1',
  };
}

function config(): WorkerConfig {
  return parseWorkerConfig(env());
}

function trainInput(steps: number, everySteps: number): JobInputs['train'] {
  return {
    baseModel: { name: 'tiny-test-base', files: world.model },
    dataset: { sha256: world.datasetSha, evalFraction: 0.1 },
    hyperparameters: { steps, batchSize: 4, lr: 5e-3, warmupSteps: 0, seed: 3, lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj'] } },
    checkpointing: { everySteps },
  };
}

/** Producers validate before enqueueing (defaults fixed at enqueue time) and use the job id as idempotency key. */
async function enqueue<K extends JobKind>(kind: K, jobId: string, input: JobInputs[K]): Promise<Job> {
  return queues.get(kind)!.add(kind, parseJobPayload(kind, input), { jobId, attempts: 1 });
}

async function progressOf(kind: JobKind, jobId: string): Promise<JobProgress | undefined> {
  const job = await queues.get(kind)!.getJob(jobId);
  return job === undefined ? undefined : readJobProgress(job.progress);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function spawnWorker(name: string): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  let output = '';
  const child = spawn(process.execPath, [MAIN], { env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, output: () => `--- ${name} ---\n${output}` };
}

describe('trainer-worker with a real Redis', () => {
  before(async () => {
    redis = await startRedisServer();
    registry = await startRegistryStub();
    root = await mkdtemp(path.join(tmpdir(), 'palette-worker-'));
    world = await createWorldFixture(root);
    const connection = redisConnectionOptions(redis.url);
    for (const kind of ['train', 'embed', 'evaluate'] as const) queues.set(kind, new Queue(QUEUE_NAMES[kind], { connection }));
    events = new QueueEvents(QUEUE_NAMES.train, { connection });
    await events.waitUntilReady();
  });

  after(async () => {
    await events?.close();
    for (const q of queues.values()) await q.close();
    await registry?.close();
    await redis?.stop();
    await rm(root, { recursive: true, force: true });
    clearSessionCache();
  });

  it('runs a train job to completion: progress, checkpoints, adapter blobs, one registered result', async () => {
    const app = await startTrainerWorker(config(), { echo: () => undefined });
    try {
      await app.waitUntilReady();
      const seen: JobProgress[] = [];
      const onProgress = ({ jobId, data }: { jobId: string; data: unknown }): void => {
        const p = readJobProgress(data);
        if (jobId === 'train-ok' && p !== undefined) seen.push(p);
      };
      events.on('progress', onProgress);
      const job = await enqueue('train', 'train-ok', trainInput(12, 4));
      const result = (await job.waitUntilFinished(events, 60_000)) as TrainJobResult;
      events.off('progress', onProgress);

      assert.equal(result.kind, 'train');
      assert.equal(result.metrics.steps, 12);
      assert.ok(Number.isFinite(result.metrics.finalLoss) && result.metrics.finalLoss > 0);
      assert.ok(result.metrics.evalExamples > 0 && result.metrics.trainExamples + result.metrics.evalExamples === world.examples);
      assert.equal(result.metrics.resumedFromStep, undefined);
      const files = result.adapter.files;
      const adapter = readPeftAdapter(
        { configJson: await readBlob(world.store, files['adapter_config.json']!.sha256), safetensors: new Uint8Array(await readBlob(world.store, files['adapter_model.safetensors']!.sha256)) },
        parseModelConfig(JSON.parse((await readBlob(world.store, world.model['config.json']!)).toString())),
      );
      assert.equal(adapter.config.r, 4);
      assert.equal(adapter.weights.modules.size, 4, '2 layers × q_proj, v_proj');

      const training = seen.filter((p) => p.phase === 'training' && p.loss !== null);
      assert.ok(training.length >= 2, `progress events observed: ${seen.map((p) => `${p.phase}@${p.step}`).join(' ')}`);
      assert.ok(training.every((p) => p.totalSteps === 12 && p.learningRate !== null && p.tokensPerSecond! > 0 && p.etaSeconds! >= 0));
      const checkpointSteps = [...new Set(seen.flatMap((p) => (p.checkpoint ? [p.checkpoint.step] : [])))];
      assert.deepEqual(checkpointSteps, [4, 8, 12]);
      assert.equal(seen.at(-1)!.phase, 'completed');
      // The companion discriminator reports in its own field: the job's steps never go back once the adapter is trained.
      const afterTraining = seen.slice(seen.findIndex((p) => p.step === 12));
      assert.ok(afterTraining.every((p) => p.step === 12 && p.totalSteps === 12), `steps after training: ${afterTraining.map((p) => `${p.phase}@${p.step}/${p.totalSteps}`).join(' ')}`);
      const discriminator = seen.flatMap((p) => (p.discriminator ? [p.discriminator] : []));
      assert.ok(discriminator.some((d) => d.phase === 'synthesize') && discriminator.some((d) => d.phase === 'train'), 'the discriminator reports its own phases and units');
      assert.ok(discriminator.every((d) => d.done <= d.total));

      const posts = registry.posts.filter((p) => p.body.jobId === 'train-ok');
      assert.equal(posts.length, 1);
      assert.equal(posts[0]!.idempotencyKey, 'train-ok');
      assert.equal(posts[0]!.authorization, `Bearer ${SERVICE_KEY}`);
      assert.equal(posts[0]!.path, '/api/v1/internal/jobs/train-ok/result');
      assert.deepEqual(posts[0]!.body.result, result);
      const logs = (await queues.get('train')!.getJobLogs('train-ok')).logs.map(parseLogLine);
      assert.ok(logs.some((l) => l.message === 'checkpoint at step 8' && l.level === 'info' && l.time !== ''));

      // The same adapter through evaluate (embed needs a retriever artifact: apps/registry-api/test/retrieval/retrieval-jobs.test.ts).
      const evaluate = await enqueue('evaluate', 'evaluate-ok', { baseModel: { files: world.model }, adapter: { 'adapter_config.json': files['adapter_config.json']!.sha256, 'adapter_model.safetensors': files['adapter_model.safetensors']!.sha256 }, task: { worldTask: world.taskId, seed: 7, examples: 6 }, maxNewTokens: 4, batchSize: 6 });
      const scored = await waitFor('evaluate result', async () => (await queues.get('evaluate')!.getJob('evaluate-ok'))?.returnvalue ?? undefined, 30_000);
      assert.equal(scored.metrics.examples, 6);
      assert.ok(Number.isInteger(scored.metrics.correct) && scored.metrics.accuracy === scored.metrics.correct / 6);
      assert.equal(scored.samples.length, 5);
      assert.ok(scored.samples.every((s: { prompt: string }) => s.prompt.startsWith('Q: % ')));
      assert.ok(evaluate.id);
    } finally {
      await app.shutdown();
    }
  });

  it('a cancelled job stops within 5 s, fails without retry, and registers no result', async () => {
    const app: TrainerWorker = await startTrainerWorker(config(), { echo: () => undefined });
    try {
      await app.waitUntilReady();
      await enqueue('train', 'train-cancel', trainInput(100_000, 1000));
      await waitFor('training to start', async () => ((await progressOf('train', 'train-cancel'))?.phase === 'training' ? true : undefined), 30_000);
      const client = await queues.get('train')!.client;
      const requested = Date.now();
      await requestJobCancellation(client, 'train-cancel', 'user pressed stop');
      const job = await waitFor('the job to fail', async () => {
        const j = await queues.get('train')!.getJob('train-cancel');
        if (j === undefined || (await j.getState()) !== 'failed') return undefined;
        // Read the job again: the copy fetched before the state check may predate failedReason.
        return queues.get('train')!.getJob('train-cancel');
      }, 10_000);
      const elapsed = Date.now() - requested;
      assert.ok(elapsed < 5000, `stopped after ${elapsed} ms`);
      assert.match(job.failedReason, /cancelled: user pressed stop/);
      assert.equal(job.returnvalue, null);
      assert.equal(job.attemptsMade, 1);
      assert.equal(registry.posts.filter((p) => p.body.jobId === 'train-cancel').length, 0);
    } finally {
      await app.shutdown();
    }
  });

  it('a worker killed with SIGKILL mid-job: another process resumes from the checkpoint; one result', async () => {
    const first = spawnWorker('worker A');
    const second: { w?: ReturnType<typeof spawnWorker> } = {};
    try {
      // Long enough (a few seconds) that the job cannot finish between the observation and the kill.
      await enqueue('train', 'train-crash', trainInput(CRASH_STEPS, 50));
      const atKill = await waitFor('a checkpoint', async () => {
        const p = await progressOf('train', 'train-crash');
        return p?.checkpoint !== undefined && p.checkpoint.step >= 50 ? p : undefined;
      }, 30_000);
      first.child.kill('SIGKILL');
      await first.exited;
      const afterKill = (await progressOf('train', 'train-crash'))!;
      assert.ok(afterKill.step < CRASH_STEPS, `the job was still running when killed (step ${afterKill.step})`);

      second.w = spawnWorker('worker B');
      const job = await waitFor('the resumed job to complete', async () => {
        const j = await queues.get('train')!.getJob('train-crash');
        return j !== undefined && (await j.getState()) === 'completed' ? j : undefined;
      }, 40_000);
      const result = job.returnvalue as TrainJobResult;
      assert.equal(result.metrics.steps, CRASH_STEPS);
      assert.ok(result.metrics.resumedFromStep! > 0, 'resumed, not restarted');
      assert.ok(result.metrics.resumedFromStep! >= atKill.checkpoint!.step, `resumed at ${result.metrics.resumedFromStep}, checkpoint seen ${atKill.checkpoint!.step}`);
      assert.equal(registry.posts.filter((p) => p.body.jobId === 'train-crash').length, 1, 'exactly one result registered');
      const logs = (await queues.get('train')!.getJobLogs('train-crash')).logs.map(parseLogLine);
      assert.ok(logs.some((l) => l.message.startsWith(`resumed from the checkpoint at step ${result.metrics.resumedFromStep}`)));
    } catch (e) {
      process.stderr.write(first.output() + '\n' + (second.w?.output() ?? '') + '\n');
      throw e;
    } finally {
      first.child.kill('SIGKILL');
      if (second.w) {
        second.w.child.kill('SIGTERM');
        await second.w.exited;
      }
    }
  });

  it('SIGTERM: the running job checkpoints, goes back to the queue, and the process exits 0', async () => {
    const w = spawnWorker('worker C');
    try {
      await enqueue('train', 'train-term', trainInput(CRASH_STEPS, 5000));
      await waitFor('training progress', async () => {
        const p = await progressOf('train', 'train-term');
        return p?.phase === 'training' && p.step >= 5 ? p : undefined;
      }, 30_000);
      const signalled = Date.now();
      w.child.kill('SIGTERM');
      const code = await w.exited;
      assert.equal(code, 0, w.output());
      assert.ok(Date.now() - signalled < 5000, `shut down in ${Date.now() - signalled} ms`);
      const job = (await queues.get('train')!.getJob('train-term'))!;
      assert.equal(await job.getState(), 'waiting');
      const p = readJobProgress(job.progress)!;
      assert.ok(p.checkpoint !== undefined && p.checkpoint.step >= 5 && p.checkpoint.step < CRASH_STEPS, `checkpoint ${JSON.stringify(p.checkpoint)}`);
      assert.equal(job.attemptsMade, 0, 'a shutdown is not a failed attempt');
      assert.equal(registry.posts.filter((x) => x.body.jobId === 'train-term').length, 0);

      // The handed-back job finishes on the next worker, from that checkpoint.
      const app = await startTrainerWorker(config(), { echo: () => undefined });
      try {
        const result = (await job.waitUntilFinished(events, 40_000)) as TrainJobResult;
        assert.equal(result.metrics.resumedFromStep, p.checkpoint.step);
        assert.equal(result.metrics.steps, CRASH_STEPS);
      } finally {
        await app.shutdown();
      }
    } catch (e) {
      process.stderr.write(w.output() + '\n');
      throw e;
    } finally {
      w.child.kill('SIGKILL');
    }
  });
});
