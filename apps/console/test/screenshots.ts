/**
 * `npm run screenshots`: boots the whole stack the way the e2e tests do (registry-api serving the
 * fresh build, Redis, a trainer-worker, the router), fills it with a little data, and saves a PNG
 * of every console page at laptop (1280×800) and phone (390×844) width into
 * apps/console/screenshots/<width>/. Fails when the browser reports any error on any page.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { WORLD_TASKS } from '@palette/peft-core/world/tasks';
import { buildJobFixture } from '../../registry-api/test/jobs/job-fixtures';
import { startRedisServer } from '../../../tools/testing/redis-server';
import { launchBrowser, LAPTOP, PHONE } from './support/browser';
import { makeAdapterFiles, makeBase, makeRouterFiles, registerAdapter, registerBase, uploadArtifact } from './support/catalog-fixtures';
import { CONSOLE_ROOT } from './support/console-build';
import { freePort, startConsoleServer } from './support/console-server';
import { signIn } from './support/flows';
import { startRouter } from './support/router-process';
import { spawnTrainWorker } from './support/worker-process';

const OUT = path.join(CONSOLE_ROOT, 'screenshots');
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'console-screens-'));
  const routerPort = await freePort();
  const [redis, fixture, playBase, browser] = await Promise.all([startRedisServer(), buildJobFixture(), makeBase('tiny-play', 9), launchBrowser()]);
  const server = await startConsoleServer({ env: { REDIS_URL: redis.url }, routerUrl: `http://127.0.0.1:${routerPort}` });
  const { registry } = server;
  const admin = registry.adminKey;
  const cleanups: (() => Promise<void>)[] = [];
  try {
    // Data: two bases, three adapters, a router, a dataset, a finished training job, two finished
    // evaluations (adapter and baseline, run by the real worker), a second key.
    const task = WORLD_TASKS[0]!.id;
    let upload = registry.http.post('/api/v1/base-models').set(auth(admin)).field('name', 'tiny-base');
    for (const [name, bytes] of fixture.modelFiles) upload = upload.attach(name, bytes, name);
    await upload.expect(201);
    await registerBase(registry, playBase);
    await registerAdapter(registry, playBase, 'legal-de', 'summarise german legal contracts in plain words', 41, [`task:${task}`, 'legal']);
    await registerAdapter(registry, playBase, 'recipes-fr', 'translate cooking recipes into french', 42);
    await registerAdapter(registry, playBase, 'support-en', 'answer customer support tickets politely', 43);
    await uploadArtifact(registry, { kind: 'router', name: 'support-router', description: 'MeteoRA gates over the legal and recipes experts' }, makeRouterFiles(playBase, ['legal-de@v1', 'recipes-fr@v1']));
    await registry.http.put('/api/v1/adapters/legal-de/aliases/prod').set(auth(admin)).send({ version: 'v1' }).expect(200);
    const dataset = await registry.http.post('/api/v1/datasets').set(auth(admin)).field('name', 'reverse-word').attach('file', Buffer.from(fixture.datasetJsonl), 'reverse.jsonl').expect(201);
    await registry.http.post('/api/v1/keys').set(auth(admin)).send({ name: 'trainer-worker', role: 'service' }).expect(201);
    const reader = await registry.http.post('/api/v1/keys').set(auth(admin)).send({ name: 'analytics-dashboard', role: 'reader' }).expect(201);
    await registry.http.delete(`/api/v1/keys/${reader.body.id}`).set(auth(admin)).expect(200);
    const service = await registry.http.post('/api/v1/keys').set(auth(admin)).send({ name: 'worker-1', role: 'service' }).expect(201);
    const blobDir = registry.config.blobStore.driver === 'dir' ? registry.config.blobStore.root : '';
    const worker = await spawnTrainWorker({ redisUrl: redis.url, registryUrl: server.url, serviceKey: service.body.key, blobDir, dataDir: path.join(scratch, 'worker'), queues: 'train,evaluate' });
    cleanups.push(() => worker.stop());
    const router = await startRouter(registry, server.url, routerPort, 'tiny-play');
    cleanups.push(() => router.close());
    const job = await registry.http
      .post('/api/v1/jobs')
      .set(auth(admin))
      .set('idempotency-key', 'reverse-demo')
      .send({ kind: 'train', baseModel: 'tiny-base', dataset: { ref: dataset.body.dataset.id }, adapter: { name: 'reverse-word', description: 'reverses the letters of a word', tags: ['world'] }, hyperparameters: { steps: 80, batchSize: 4, lr: 0.005, lora: { r: 4, alpha: 8 } } })
      .expect(201);
    const jobId = job.body.job.id as string;
    const evaluations = await Promise.all(
      [{ adapter: 'legal-de@v1' }, {}].map(async (target, i) => {
        const res = await registry.http
          .post('/api/v1/jobs')
          .set(auth(admin))
          .set('idempotency-key', `evaluate-demo-${i}`)
          .send({ kind: 'evaluate', baseModel: 'tiny-play', ...target, task: { worldTask: task, examples: 16, maxNewTokens: 8 } })
          .expect(201);
        return res.body.job.id as string;
      }),
    );
    for (const id of [jobId, ...evaluations]) {
      for (let i = 0; ; i++) {
        const res = await registry.http.get(`/api/v1/jobs/${id}`).set(auth(admin));
        if (res.body.status === 'succeeded') break;
        if (res.body.status === 'failed' || i > 1200) throw new Error(`demo job ${id} did not succeed: ${JSON.stringify(res.body.error)}\n${worker.output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    const errors: string[] = [];
    for (const [label, viewport] of [['laptop-1280x800', LAPTOP], ['phone-390x844', PHONE]] as const) {
      const dir = path.join(OUT, label);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const { page, context, errors: pageErrors } = await browser.newPage(server.url, viewport);
      const shot = async (name: string) => {
        await page.waitForLoadState('networkidle').catch(() => undefined);
        await page.locator('.loading').first().waitFor({ state: 'detached', timeout: 10_000 }).catch(() => undefined);
        // A full-page shot of a scrolled page paints the sticky top bar mid-page.
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
        console.log(`saved ${path.relative(process.cwd(), path.join(dir, `${name}.png`))}`);
      };
      await page.goto('/console/login');
      await shot('01-login');
      await signIn(page, admin);
      await shot('02-adapters');
      await page.goto('/console/adapters?q=german%20contracts');
      await page.getByRole('row', { name: /legal-de/ }).waitFor();
      await shot('03-adapters-search');
      await page.goto('/console/adapters/legal-de');
      await page.getByRole('list', { name: 'LoRA weight norm per layer' }).waitFor();
      await shot('04-adapter-detail');
      await page.goto('/console/adapters?mode=semantic&q=german%20contracts&baseModel=tiny-play');
      await page.getByText('No retriever for this base yet').waitFor();
      await shot('03b-adapters-semantic-no-retriever');
      await page.goto('/console/adapters/new');
      await page.getByLabel('Name', { exact: true }).fill('bad name!');
      const files = makeAdapterFiles(playBase, { r: 2, seed: 7 });
      await page.getByLabel('adapter_config.json').setInputFiles({ name: 'adapter_config.json', mimeType: 'application/json', buffer: files.configJson });
      await page.getByRole('button', { name: 'Upload' }).click();
      await page.locator('#name-error').waitFor();
      await shot('05-adapter-upload-errors');
      await page.goto('/console/base-models');
      await shot('06-base-models');
      await page.goto('/console/base-models/tiny-play');
      await page.getByRole('table', { name: /Baseline accuracy of tiny-play/ }).waitFor();
      await shot('06b-base-model-detail');
      await page.goto('/console/jobs');
      await page.getByRole('link', { name: jobId }).waitFor();
      await shot('07-jobs');
      await page.goto(`/console/jobs/${jobId}`);
      await page.getByRole('img', { name: /Training loss/ }).waitFor();
      await shot('08-job-detail');
      await page.goto(`/console/jobs/${evaluations[0]}`);
      await page.getByTestId('job-registered').getByRole('link').waitFor();
      await shot('08b-evaluate-job-detail');
      // The evaluate form with the registry's 400 at its field.
      await page.goto('/console/jobs?kind=evaluate&baseModel=tiny-play&adapter=legal-de%40v1');
      await page.getByLabel('World task').fill('no-such-task');
      await page.getByRole('button', { name: 'Submit job' }).click();
      await page.locator('#job-task-worldTask-error').waitFor();
      await shot('07b-jobs-evaluate-form-error');
      await page.goto('/console/playground');
      await runPlayground(page);
      await shot('09-playground');
      await page.goto('/console/playground?model=support-router');
      await page.getByLabel('Model', { exact: true }).locator('option[value="support-router"]').waitFor({ state: 'attached' });
      await page.getByLabel('Prompt').fill('summarise the contract');
      await page.getByLabel('Max tokens').fill('12');
      await page.getByRole('button', { name: 'Run' }).click();
      await page.getByRole('table', { name: 'Gate statistics per expert' }).waitFor();
      await shot('09b-playground-router');
      await page.goto('/console/artifacts');
      await page.locator('tr[data-artifact="router/support-router@v1"]').waitFor();
      await shot('14-artifacts');
      await page.goto('/console/keys');
      await shot('10-keys');
      await page.goto('/console/health');
      await page.getByRole('table', { name: "Adapters in the router's cache" }).waitFor();
      await shot('11-health');
      if (viewport === PHONE) {
        await page.getByRole('button', { name: 'Menu' }).click();
        await shot('12-menu-open');
      }
      await page.goto('/console/no-such-page');
      await shot('13-not-found');
      // The semantic search's 409 and the evaluate form's 400 are provoked on purpose (the browser logs failed fetches).
      errors.push(...pageErrors().filter((e) => !/status of (400|409)/.test(e)).map((e) => `${label}: ${e}`));
      await context.close();
    }
    if (errors.length > 0) throw new Error(`the browser reported errors:\n${errors.join('\n')}`);
    console.log(`screenshots in ${OUT}`);
  } finally {
    await browser.close();
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    await server.close();
    await redis.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function runPlayground(page: Page): Promise<void> {
  await page.getByLabel('Mixture of adapters').check();
  await page.getByLabel('Adapter 1').locator('option[value="tiny-play:legal-de"]').waitFor({ state: 'attached' });
  await page.getByLabel('Adapter 1').selectOption('tiny-play:legal-de');
  await page.getByLabel('Adapter 2').selectOption('tiny-play:recipes-fr');
  await page.getByLabel('Weight').first().fill('0.7');
  await page.getByLabel('Weight').nth(1).fill('0.3');
  await page.getByLabel('Prompt').fill('summarise the contract');
  await page.getByLabel('Max tokens').fill('16');
  await page.getByRole('button', { name: 'Run' }).click();
  await page.getByText(/^Finished:/).waitFor();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
