/**
 * The playground end to end: the console (in Chromium) → registry-api's router gateway → the REAL
 * router, which loads the adapters from the same registry. Streamed text and the routing the router
 * reports (strategy, adapters and weights, heatmap) appear; the health page shows the router's cache.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, type ConsoleBrowser } from './support/browser';
import { makeBase, makeRouterFiles, registerAdapter, registerBase, uploadArtifact } from './support/catalog-fixtures';
import { freePort, startConsoleServer, type ConsoleServer } from './support/console-server';
import { assertNoBrowserErrors, signIn } from './support/flows';
import { startRouter, type RouterHandle } from './support/router-process';

let server: ConsoleServer;
let router: RouterHandle;
let browser: ConsoleBrowser;

before(async () => {
  // The registry must know the router's address when it starts, so the port is chosen first.
  const routerPort = await freePort();
  const [started, base, launched] = await Promise.all([startConsoleServer({ routerUrl: `http://127.0.0.1:${routerPort}` }), makeBase('tiny-play', 9), launchBrowser()]);
  server = started;
  browser = launched;
  await registerBase(server.registry, base);
  await registerAdapter(server.registry, base, 'legal-de', 'summarise german legal contracts', 41);
  await registerAdapter(server.registry, base, 'recipes-fr', 'translate cooking recipes into french', 42);
  // A learned router (MeteoRA gates made by peft-core's writer) over both: /v1/models lists it by name.
  await uploadArtifact(server.registry, { kind: 'router', name: 'mix-router' }, makeRouterFiles(base, ['legal-de@v1', 'recipes-fr@v1']));
  router = await startRouter(server.registry, server.url, routerPort, 'tiny-play');
});

after(async () => {
  await browser?.close();
  await router?.close();
  await server?.close();
});

describe('console: router playground', () => {
  it('streams text for an adapter and for a mixture, with the routing and a weight heatmap', { timeout: 90_000 }, async () => {
    const { page, context, errors } = await browser.newPage(server.url);
    await signIn(page, server.registry.adminKey);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Playground' }).click();
    const model = page.getByLabel('Model', { exact: true });
    await model.locator('option[value="tiny-play:legal-de"]').waitFor({ state: 'attached' });

    // One adapter, explicit routing.
    await model.selectOption('tiny-play:legal-de');
    await page.getByLabel('Prompt').fill('summarise the contract');
    await page.getByLabel('Max tokens').fill('12');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByText(/^Finished:/).waitFor();
    const output = page.getByTestId('completion');
    assert.ok((await output.innerText()).trim().length > 0, 'streamed text is shown');
    assert.equal(await page.getByTestId('routing-strategy').innerText(), 'explicit');
    assert.match(await page.getByTestId('routing-adapters').innerText(), /legal-de@v1 × 1/);
    const tokenMap = page.getByRole('table', { name: /Weight of each adapter for each streamed token/ });
    assert.ok((await tokenMap.getByRole('row').count()) >= 2, 'one heatmap row per streamed token');

    // A mixture of two adapters.
    await page.getByLabel('Mixture of adapters').check();
    await page.getByLabel('Adapter 1').selectOption('tiny-play:legal-de');
    await page.getByLabel('Adapter 2').selectOption('tiny-play:recipes-fr');
    await page.getByLabel('Weight').first().fill('0.7');
    await page.getByLabel('Weight').nth(1).fill('0.3');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('routing-strategy').getByText('mixture').waitFor();
    await page.getByText(/^Finished:/).waitFor();
    assert.match(await page.getByTestId('routing-adapters').innerText(), /legal-de@v1 × 0\.7[\s\S]*recipes-fr@v1 × 0\.3/);
    const header = await tokenMap.getByRole('row').first().innerText();
    assert.match(header, /legal-de@v1[\s\S]*recipes-fr@v1/, 'one heatmap column per adapter');

    // A learned router, picked by name: its routing names it and reports gate statistics per expert.
    await page.getByLabel('Model or adapter').check();
    const routerOption = model.locator('option[value="mix-router"]');
    assert.match(await routerOption.innerText(), /mix-router \(on tiny-play\)/);
    assert.equal(await model.locator('option[value="tiny-play:auto"]').count(), 1, 'auto per base is offered');
    await model.selectOption('mix-router');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.getByTestId('routing-strategy').getByText('meteora').waitFor();
    await page.getByText(/^Finished:/).waitFor();
    assert.equal(await page.getByTestId('routing-router').innerText(), 'mix-router@v1');
    const gate = page.getByRole('table', { name: 'Gate statistics per expert' });
    assert.match(await gate.getByRole('row').first().innerText(), /Mean gate weight[\s\S]*Top k counts/i);
    assert.match(await gate.getByRole('row', { name: /legal-de@v1/ }).innerText(), /\d\.\d{3}/, 'a measured weight per expert');
    assert.doesNotMatch(await page.getByTestId('routing-adapters').innerText(), /…/, 'the last chunk carries the measured weights');

    // The router's adapter cache now holds both adapters.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'System health' }).click();
    const cache = page.getByRole('table', { name: "Adapters in the router's cache" });
    await cache.waitFor();
    const cacheText = await cache.innerText();
    assert.match(cacheText, /legal-de/);
    assert.match(cacheText, /recipes-fr/);
    await context.close();
    assertNoBrowserErrors(errors());
  });
});
