/**
 * This round's platform features in the console, against the REAL registry-api (with a real
 * redis-server, so job routes work) serving the build in Chromium:
 * - a router artifact (built with peft-core's writer) uploaded to the registry is listed on the
 *   Routers & artifacts page with its strategy, experts and base, and its files download;
 * - the job form submits an `evaluate` job: the registry's 400 (unknown world task) appears at the
 *   World task field; corrected, the job is accepted and its page shows what it will register;
 * - once the evaluation result is registered (through the registry's own result route, as the
 *   worker posts it), the job links to the adapter, whose page shows the accuracy per task and
 *   its task accuracy;
 * - semantic adapter search on a base without a retriever explains the registry's 409.
 * No worker runs: registering the result is the worker's only contact with the registry here.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { WORLD_TASKS } from '@palette/peft-core/world/tasks';
import { startRedisServer, type RedisServer } from '../../../tools/testing/redis-server';
import { launchBrowser, PHONE, type ConsoleBrowser } from './support/browser';
import { makeBase, makeRouterFiles, registerAdapter, registerBase, uploadArtifact, type BaseFixture } from './support/catalog-fixtures';
import { startConsoleServer, type ConsoleServer } from './support/console-server';
import { assertNoBrowserErrors, signIn } from './support/flows';

let redis: RedisServer;
let server: ConsoleServer;
let browser: ConsoleBrowser;
let base: BaseFixture;
let routerFiles: Map<string, Buffer>;
const task = WORLD_TASKS[0]!.id;
const auth = (key: string) => ({ authorization: `Bearer ${key}` });

before(async () => {
  const [startedRedis, launched, tiny] = await Promise.all([startRedisServer(), launchBrowser(), makeBase('tiny-platform', 11)]);
  redis = startedRedis;
  browser = launched;
  base = tiny;
  server = await startConsoleServer({ env: { REDIS_URL: redis.url } });
  await registerBase(server.registry, base);
  // Trained "for" the task (tag task:<id>): its evaluation on that task is its task accuracy.
  await registerAdapter(server.registry, base, 'legal-de', 'summarise german legal contracts', 41, [`task:${task}`]);
  await registerAdapter(server.registry, base, 'recipes-fr', 'translate cooking recipes into french', 42);
  routerFiles = makeRouterFiles(base, ['legal-de@v1', 'recipes-fr@v1']);
  await uploadArtifact(server.registry, { kind: 'router', name: 'mix-router', description: 'legal and recipes experts' }, routerFiles);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await redis?.stop();
});

describe('console: routers & artifacts', () => {
  it('lists an uploaded router with its strategy, experts and base, and downloads its files', { timeout: 60_000 }, async () => {
    const { page, context, errors } = await browser.newPage(server.url);
    await signIn(page, server.registry.adminKey);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Routers & artifacts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Routers & artifacts' }).waitFor();
    const row = page.locator('tr[data-artifact="router/mix-router@v1"]');
    await row.waitFor();
    assert.equal(await row.getByTestId('router-strategy').innerText(), 'meteora');
    const experts = await row.getByLabel('Experts').innerText();
    assert.match(experts, /legal-de@v1/);
    assert.match(experts, /recipes-fr@v1/);
    assert.match(await row.innerText(), /tiny-platform/);
    assert.match(await row.innerText(), /gateAccuracy 0\.875/);
    // The Routers tab keeps it; the Retrievers tab has none, and no embedding space exists yet.
    await page.getByRole('button', { name: 'Retrievers' }).click();
    await page.getByText('No retrievers yet.').waitFor();
    await page.getByText(/No embedding space yet/).waitFor();
    await page.getByRole('button', { name: 'Routers' }).click();
    await row.waitFor();

    // A file download goes through the key-authenticated route and yields the stored bytes.
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: /Download router\.json/ }).click()]);
    assert.deepEqual(await readFile((await download.path())!), routerFiles.get('router.json'));

    // The detail page: base link, manifest summary, playground link.
    await row.getByRole('link', { name: 'mix-router@v1' }).click();
    await page.getByRole('heading', { level: 1, name: 'mix-router@v1' }).waitFor();
    await page.getByRole('link', { name: 'Try in the playground' }).waitFor();
    assert.match(await page.getByRole('region', { name: 'Summary' }).innerText(), /Hyperparameters[\s\S]*Top k/i);
    await context.close();
    assertNoBrowserErrors(errors());
  });
});

describe('console: evaluate job → evaluation on the adapter', () => {
  it('shows the registry 400 at its field, submits, and shows the registered evaluation on the adapter', { timeout: 60_000 }, async () => {
    const { page, context, errors } = await browser.newPage(server.url);
    await signIn(page, server.registry.adminKey);
    await page.goto('/console/jobs');
    const form = page.getByRole('form', { name: 'Submit job' });
    await form.getByLabel('Kind').selectOption('evaluate');
    await form.getByLabel('Base model').locator('option[value="tiny-platform"]').waitFor({ state: 'attached' });
    await form.getByLabel('Base model').selectOption('tiny-platform');
    await form.getByLabel('Adapter version').fill('legal-de@v1');
    const worldTask = form.getByLabel('World task');
    await worldTask.fill('no-such-task');
    await form.getByRole('button', { name: 'Submit job' }).click();

    // The registry's 400 names task.worldTask: it appears at that field, which gets the focus.
    const fieldError = page.locator('#job-task-worldTask-error');
    await fieldError.waitFor();
    assert.match(await fieldError.innerText(), /unknown world task "no-such-task" \(known: .*\)/);
    assert.match(await fieldError.innerText(), new RegExp(task));
    assert.equal(await worldTask.getAttribute('aria-invalid'), 'true');
    assert.match((await worldTask.getAttribute('aria-describedby')) ?? '', /job-task-worldTask-error/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'job-task-worldTask');
    const jobsBefore = await server.registry.http.get('/api/v1/jobs').set(auth(server.registry.adminKey)).expect(200);
    assert.equal(jobsBefore.body.items.length, 0, 'the refused submission left no job');

    await worldTask.fill(task);
    await form.getByLabel('Examples').fill('8');
    await form.getByRole('button', { name: 'Submit job' }).click();
    await page.getByRole('heading', { level: 1, name: /^Job / }).waitFor();
    const jobId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    assert.match(await page.getByLabel('Job registration').innerText(), new RegExp(`"worldTask": "${task}"`));
    assert.match(await page.locator('.page-header').innerText(), /evaluate on tiny-platform/);

    // The worker's part: its result, posted to the registry's result route with a service key.
    const service = await server.registry.keyFor('service');
    await server.registry.http
      .post(`/api/v1/internal/jobs/${encodeURIComponent(jobId)}/result`)
      .set(auth(service))
      .send({ jobId, kind: 'evaluate', result: { kind: 'evaluate', metrics: { task, examples: 8, correct: 6, accuracy: 0.75 } } })
      .expect(201);

    await page.reload();
    const registered = page.getByTestId('job-registered');
    await registered.getByRole('link', { name: 'legal-de@v1' }).click();
    await page.getByRole('heading', { level: 1, name: 'legal-de' }).waitFor();
    assert.equal(await page.getByTestId('task-accuracy').innerText(), '75.0%');
    const evaluation = page.getByRole('table', { name: /Accuracy of legal-de@v1 per world task/ }).getByRole('row', { name: new RegExp(task) });
    await evaluation.waitFor();
    assert.match(await evaluation.innerText(), /75\.0%/);
    assert.match(await evaluation.innerText(), /not evaluated/, 'no baseline for the base model yet');
    assert.match(await evaluation.innerText(), /6 \/ 8/);
    await context.close();
    // The 400 is a failed fetch the browser logs; nothing else may be reported.
    assertNoBrowserErrors(errors().filter((e) => !/status of 400/.test(e)));
  });
});

describe('console: semantic adapter search', () => {
  it('explains that the base has no retriever yet (409) at phone width', { timeout: 30_000 }, async () => {
    const { page, context, errors } = await browser.newPage(server.url, PHONE);
    await signIn(page, server.registry.adminKey);
    await page.goto('/console/adapters?mode=semantic&q=german%20contracts&baseModel=tiny-platform');
    const alert = page.getByRole('alert').filter({ hasText: 'No retriever for this base yet' });
    await alert.waitFor();
    assert.match(await alert.innerText(), /tiny-platform/);
    assert.equal(await page.getByRole('radio', { name: 'Meaning (semantic)' }).isChecked(), true);
    await context.close();
    assertNoBrowserErrors(errors().filter((e) => !/status of 409/.test(e)));
  });
});
