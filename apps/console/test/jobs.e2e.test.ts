/**
 * Jobs in the console against the REAL stack: registry-api (with Redis), a real redis-server and a
 * real trainer-worker process. A small training job submitted from the form streams its progress
 * to 100% with a loss curve and logs; a long one is cancelled and retried from its page.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildJobFixture } from '../../registry-api/test/jobs/job-fixtures';
import { startRedisServer, type RedisServer } from '../../../tools/testing/redis-server';
import { launchBrowser, type ConsoleBrowser } from './support/browser';
import { startConsoleServer, type ConsoleServer } from './support/console-server';
import { assertNoBrowserErrors, signIn } from './support/flows';
import { spawnTrainWorker, type WorkerProcess } from './support/worker-process';

let redis: RedisServer;
let server: ConsoleServer;
let browser: ConsoleBrowser;
let worker: WorkerProcess;
let scratch: string;
let datasetId: string;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

before(async () => {
  const [startedRedis, fixture, launched] = await Promise.all([startRedisServer(), buildJobFixture(), launchBrowser()]);
  redis = startedRedis;
  browser = launched;
  scratch = await mkdtemp(path.join(tmpdir(), 'console-jobs-'));
  server = await startConsoleServer({ env: { REDIS_URL: redis.url } });
  const { registry } = server;
  let upload = registry.http.post('/api/v1/base-models').set(auth(registry.adminKey)).field('name', 'tiny-base');
  for (const [name, bytes] of fixture.modelFiles) upload = upload.attach(name, bytes, name);
  await upload.expect(201);
  const dataset = await registry.http.post('/api/v1/datasets').set(auth(registry.adminKey)).field('name', 'reverse-word').field('evalFraction', '0.1').attach('file', Buffer.from(fixture.datasetJsonl), 'reverse.jsonl').expect(201);
  datasetId = dataset.body.dataset.id;
  const serviceKey = await registry.http.post('/api/v1/keys').set(auth(registry.adminKey)).send({ name: 'trainer-worker', role: 'service' }).expect(201);
  const blobDir = registry.config.blobStore.driver === 'dir' ? registry.config.blobStore.root : '';
  worker = await spawnTrainWorker({ redisUrl: redis.url, registryUrl: server.url, serviceKey: serviceKey.body.key, blobDir, dataDir: path.join(scratch, 'worker') });
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await server?.close();
  await redis?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('console: jobs', () => {
  it('submits a small training job and follows it live to 100% with a loss curve and logs', { timeout: 90_000 }, async () => {
    const { page, context, errors } = await browser.newPage(server.url);
    await signIn(page, server.registry.adminKey);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Jobs' }).click();
    const form = page.getByRole('form', { name: 'Submit job' });
    assert.equal(await form.getByLabel('Kind').inputValue(), 'train', 'train is the default kind');
    await form.getByLabel('Dataset').locator(`option[value="${datasetId}"]`).waitFor({ state: 'attached' });
    await form.getByLabel('Base model').selectOption('tiny-base');
    await form.getByLabel('Dataset').selectOption(datasetId);
    await form.getByLabel('Adapter name').fill('reverse-console');
    await form.getByLabel('Hyperparameters (JSON)').fill('{"steps": 60, "batchSize": 4, "lr": 0.005, "lora": {"r": 4, "alpha": 8}}');
    await form.getByRole('button', { name: 'Submit job' }).click();

    await page.getByRole('heading', { level: 1, name: /^Job / }).waitFor();
    // Record every value the progress bar shows, in the page, so fast updates are not missed.
    await page.evaluate(() => {
      const bar = document.querySelector('[role="progressbar"][aria-label="Job progress"]')!;
      const seen: string[] = [bar.getAttribute('aria-valuenow') ?? ''];
      (window as unknown as { seenProgress: string[] }).seenProgress = seen;
      new MutationObserver(() => seen.push(bar.getAttribute('aria-valuenow') ?? '')).observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
    });
    const progress = page.getByRole('progressbar', { name: 'Job progress' });
    try {
      await page.waitForFunction(() => document.querySelector('[aria-label="Job progress"]')?.getAttribute('aria-valuenow') === '100', undefined, { timeout: 60_000 });
    } catch (error) {
      throw new Error(`job did not reach 100%: ${String(error)}\n${worker.output()}`);
    }
    assert.equal(await progress.getAttribute('aria-valuenow'), '100');
    await page.locator('.job-status').getByText('succeeded').waitFor();
    const seen = await page.evaluate(() => (window as unknown as { seenProgress: string[] }).seenProgress);
    assert.ok(seen.some((v) => Number(v) > 0 && Number(v) < 100), `intermediate progress shown live (saw ${seen.join(', ')})`);
    // After training the adapter, the job trains its companion discriminator: that must not restart the bar.
    assert.ok(seen.every((v, i) => i === 0 || Number(v) >= Number(seen[i - 1])), `progress never goes back (saw ${seen.join(', ')})`);
    await page.getByRole('img', { name: /Training loss of job/ }).waitFor();
    await page.getByTestId('job-registered').getByRole('link', { name: 'reverse-console@v1' }).waitFor();
    assert.ok((await page.getByRole('list', { name: /Log of job/ }).getByRole('listitem').count()) > 0, 'log lines are shown');
    await context.close();
    assertNoBrowserErrors(errors());
  });

  it('cancels a running job and retries it from its page', { timeout: 90_000 }, async () => {
    const submitted = await server.registry.http
      .post('/api/v1/jobs')
      .set(auth(server.registry.adminKey))
      .send({ kind: 'train', baseModel: 'tiny-base', dataset: { ref: datasetId }, adapter: { name: 'reverse-long' }, hyperparameters: { steps: 5000, batchSize: 4, lr: 0.005, lora: { r: 4, alpha: 8 } }, checkpointing: { everySteps: 20 } })
      .expect(201);
    const id = submitted.body.job.id as string;
    const { page, context, errors } = await browser.newPage(server.url);
    await signIn(page, server.registry.adminKey);
    await page.goto(`/console/jobs/${id}`);
    const status = page.locator('.job-status');
    await status.getByText('running').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await status.getByText('cancelled').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Retry job' }).click();
    await status.getByText(/queued|running/).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Retry job' }).count(), 0);
    const job = await server.registry.http.get(`/api/v1/jobs/${id}`).set(auth(server.registry.adminKey)).expect(200);
    assert.equal(job.body.attempts, 2, 'the retry is a second attempt of the same job');
    // Leave the worker free: cancel the retried run through the page too.
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await status.getByText('cancelled').waitFor({ timeout: 30_000 });
    await context.close();
    assertNoBrowserErrors(errors());
  });
});
