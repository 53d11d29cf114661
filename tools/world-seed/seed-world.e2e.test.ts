/**
 * The SMALL evaluation world built through the real platform: registry-api in-process on a port
 * (PGlite + pgvector, directory blob store), a real redis-server, a real trainer-worker process,
 * and the seeder over REST + SSE. Run lengths are shortened with the seeder's own test options
 * (the pipeline is under test here, not the accuracy goals: `npm run eval:world` measures those).
 * - an interrupted run (Ctrl-C while pretraining) leaves the job running; the next run reattaches
 *   to it instead of submitting it again, and finishes the world;
 * - `world-base` is registered with pretrain lineage; every adapter with its descriptions (never
 *   the held-out ones), tags, lineage (base, job, dataset), training metrics and task accuracy;
 * - a further run finds the finished world in one request and submits nothing.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getWorldTask, SMALL_WORLD_RECIPE } from '@palette/peft-core';
import { createTestApp, type TestApp } from '../../apps/registry-api/src/testing';
import { startRedisServer, type RedisServer } from '../testing/redis-server';
import { RegistryClient, type AdapterVersionInfo } from './registry-client';
import { seedWorld, type SeedReport } from './seeder';
import { applyOverrides, worldNames } from './world-material';

const ROOT = path.resolve(__dirname, '../..');
const PRETRAIN_STEPS = 20;
const LORA_STEPS = 30;
const EVAL_EXAMPLES = 20;
const RECIPE = applyOverrides(SMALL_WORLD_RECIPE, { pretrainSteps: PRETRAIN_STEPS, loraSteps: LORA_STEPS, evalExamples: EVAL_EXAMPLES, trainExamples: 400 });
const NAMES = worldNames(RECIPE);
/** Trans-LoRA's companion discriminator doubles every train job; its own tests cover it. */
const TRAIN_EXTRAS = { companionDiscriminator: { enabled: false } };

/** Counts the requests a run makes (the "world ready" check must be cheap). */
class CountingClient extends RegistryClient {
  requests: string[] = [];
  override request<T>(method: string, p: string, body?: Parameters<RegistryClient['request']>[2]): Promise<T> {
    this.requests.push(`${method} ${p}`);
    return super.request<T>(method, p, body);
  }
}

let redis: RedisServer;
let t: TestApp;
let scratch: string;
let worker: { child: ChildProcess; exited: Promise<number | null>; output: () => string } | undefined;
let client: CountingClient;

function spawnWorker(url: string, serviceKey: string): Promise<void> {
  const blobRoot = t.config.blobStore.driver === 'dir' ? t.config.blobStore.root : '';
  let output = '';
  const child = spawn(process.execPath, [path.join(ROOT, 'tools/run-ts.js'), path.join(ROOT, 'apps/trainer-worker/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: redis.url, DATA_DIR: path.join(scratch, 'worker'), BLOB_STORE: 'dir', BLOB_DIR: blobRoot, REGISTRY_URL: url, SERVICE_KEY: serviceKey, WORKER_PROGRESS_INTERVAL_MS: '500' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  worker = { child, exited, output: () => output };
  return new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('trainer-worker ready')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    void exited.then((code) => reject(new Error(`the worker exited with ${code} before it was ready:\n${output}`)));
  });
}

describe('the small evaluation world, built by the platform through its job API', { timeout: 300_000 }, () => {
  const lines: string[] = [];
  const log = (line: string): void => void lines.push(line);
  let report: SeedReport;

  before(async () => {
    redis = await startRedisServer();
    scratch = await mkdtemp(path.join(tmpdir(), 'world-seed-e2e-'));
    t = await createTestApp({ env: { REDIS_URL: redis.url } });
    await t.app.listen(0, '127.0.0.1');
    const url = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    const service = await t.http.post('/api/v1/keys').set('authorization', `Bearer ${t.adminKey}`).send({ name: 'trainer-worker', role: 'service' }).expect(201);
    await spawnWorker(url, service.body.key as string);
    client = new CountingClient({ baseUrl: url, apiKey: await t.keyFor('writer') });
  });

  after(async () => {
    // The seeder's own lines (progress, timings), for whoever reads a failure or a slow run.
    if (process.env.WORLD_SEED_TEST_LOG === '1') process.stdout.write(lines.map((l) => `# ${l}\n`).join(''));
    if (worker) {
      try {
        process.kill(-worker.child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
      await worker.exited;
    }
    await t?.close();
    await redis?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('a run interrupted while pretraining leaves the job running; the next run reattaches and builds the world', async () => {
    const abort = new AbortController();
    const interrupted = seedWorld({ client, recipe: RECIPE, log: (l) => (log(l), /^pretrain {2}training/.test(l) && abort.abort(new Error('Ctrl-C'))), progressEveryMs: 0, signal: abort.signal, trainExtras: TRAIN_EXTRAS });
    await assert.rejects(interrupted, /Ctrl-C/);
    // The registry's mirror may record 'running' a moment after the worker's first progress event.
    let status = (await client.getJob(NAMES.pretrainJob))?.status;
    for (let i = 0; i < 50 && status === 'queued'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await client.getJob(NAMES.pretrainJob))?.status;
    }
    assert.ok(status === 'running' || status === 'succeeded', `the job runs on without the seeder (status ${status})`);

    report = await seedWorld({ client, recipe: RECIPE, log, progressEveryMs: 2000, trainExtras: TRAIN_EXTRAS });
    assert.equal(report.status, 'built');
    assert.ok(!report.submitted.includes(NAMES.pretrainJob), 'the pretrain job is not submitted twice');
    assert.ok([...report.reattached, ...report.reused].includes(NAMES.pretrainJob));
    assert.equal(report.submitted.length, RECIPE.tasks.length * 3, report.submitted.join(', '));
    const text = lines.join('\n');
    assert.match(text, new RegExp(`^pretrain {2}training {2}step \\d+/${PRETRAIN_STEPS} \\(\\d+%\\) {2}loss \\d+\\.\\d{4} {2}[\\d,]+ tok/s {2}ETA `, 'm'), 'visible pretraining progress');
    assert.match(text, new RegExp(`^task 2/4 reverse-word · train {2}training {2}step \\d+/${LORA_STEPS}`, 'm'), 'visible per-task progress');
    assert.match(text, /^world ready: 'world-base' \+ 4 adapters/m);
  });

  it('registers world-base with its pretraining lineage and metrics, and the base-alone accuracy per task', async () => {
    const base = (await t.http.get('/api/v1/base-models/world-base').set('authorization', `Bearer ${t.adminKey}`).expect(200)).body as {
      metrics: { pretraining?: { job: string; initialBase: string; steps: number; finalLoss: number }; evaluations?: Record<string, { accuracy: number; examples: number }> };
    };
    assert.equal(base.metrics.pretraining?.job, NAMES.pretrainJob);
    assert.equal(base.metrics.pretraining?.initialBase, NAMES.initBase);
    assert.equal(base.metrics.pretraining?.steps, PRETRAIN_STEPS);
    assert.ok(Number.isFinite(base.metrics.pretraining?.finalLoss));
    for (const id of RECIPE.tasks) {
      const e = base.metrics.evaluations?.[id];
      assert.ok(e !== undefined && e.examples === EVAL_EXAMPLES && e.accuracy >= 0 && e.accuracy <= 1, `${id}: ${JSON.stringify(e)}`);
    }
  });

  it('registers every adapter with its descriptions, tags, lineage, training metrics and task accuracy', async () => {
    const datasets = new Set(((await t.http.get('/api/v1/datasets?limit=100').set('authorization', `Bearer ${t.adminKey}`).expect(200)).body as { sha256: string; name: string }[]).filter((d) => d.name.startsWith(`world-${NAMES.short}-`)).map((d) => d.sha256));
    for (const [i, id] of RECIPE.tasks.entries()) {
      const task = getWorldTask(id);
      const adapter = await client.getAdapter(id);
      assert.ok(adapter, id);
      assert.equal(adapter.baseModel, 'world-base');
      for (const d of task.descriptions) assert.ok(adapter.description.includes(d), `${id}: "${d}" registered`);
      for (const d of task.heldOutDescriptions) assert.ok(!adapter.description.includes(d), `${id}: held-out "${d}" must not be registered`);
      for (const tag of ['world', 'world:small', `task:${id}`, NAMES.completeTag]) assert.ok(adapter.tags.includes(tag), `${id} tags ${adapter.tags.join(',')}`);
      const version: AdapterVersionInfo = await client.getAdapterVersion(id, 'v1');
      const kinds = new Map(version.lineage.map((e) => [e.kind, e]));
      assert.ok(kinds.has('base_model'), `${id} lineage ${JSON.stringify(version.lineage)}`);
      assert.equal(kinds.get('job')?.ref, NAMES.trainJob(id));
      assert.ok(datasets.has(String(kinds.get('dataset')?.ref)), `${id}: dataset lineage names the uploaded train split`);
      const m = version.metrics as { training?: { steps: number; finalLoss: number }; taskAccuracy?: number; evaluations?: Record<string, { accuracy: number; examples: number }> };
      assert.equal(m.training?.steps, LORA_STEPS);
      assert.ok(Number.isFinite(m.training?.finalLoss));
      assert.equal(typeof m.taskAccuracy, 'number', `${id} metrics ${JSON.stringify(m)}`);
      assert.equal(m.evaluations?.[id]?.examples, EVAL_EXAMPLES);
      assert.equal(report.tasks[i]?.adapterAccuracy, m.taskAccuracy);
    }
  });

  it('a later run finds the finished world in one request and submits nothing', async () => {
    const jobsBefore = ((await t.http.get('/api/v1/jobs?limit=100').set('authorization', `Bearer ${t.adminKey}`).expect(200)).body as { items: unknown[] }).items.length;
    client.requests = [];
    const again = await seedWorld({ client, recipe: RECIPE, log, trainExtras: TRAIN_EXTRAS });
    assert.equal(again.status, 'ready');
    assert.deepEqual(again.submitted, []);
    assert.deepEqual(client.requests, [`GET /api/v1/adapters?tag=${encodeURIComponent(NAMES.completeTag)}&limit=200`]);
    const jobsAfter = ((await t.http.get('/api/v1/jobs?limit=100').set('authorization', `Bearer ${t.adminKey}`).expect(200)).body as { items: unknown[] }).items.length;
    assert.equal(jobsAfter, jobsBefore);
  });
});
