/**
 * The console in Debian's Chromium against the REAL registry-api serving its build at /console:
 * sign-in (a bad key is refused, the admin key gets in), upload an adapter (inline validation
 * first) and find it by text search, and revoke a key (which then stops working).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, PHONE, type ConsoleBrowser } from './support/browser';
import { makeAdapterFiles, makeBase, registerAdapter, registerBase, type BaseFixture } from './support/catalog-fixtures';
import { startConsoleServer, type ConsoleServer } from './support/console-server';
import { assertNoBrowserErrors, signIn } from './support/flows';

let server: ConsoleServer;
let browser: ConsoleBrowser;
let base: BaseFixture;

before(async () => {
  [server, browser, base] = await Promise.all([startConsoleServer(), launchBrowser(), makeBase('tiny-console', 5)]);
  await registerBase(server.registry, base);
  // A neighbour, so search ranks more than one adapter and the detail page has a nearest neighbour.
  await registerAdapter(server.registry, base, 'recipes-fr', 'translate cooking recipes into french', 21);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

describe('console: sign-in', () => {
  it('refuses a wrong key with a message, accepts the admin key, and keeps it for the tab only', { timeout: 60_000 }, async () => {
    const { page, context, errors } = await browser.newPage(server.url);
    await page.goto('/console/adapters');
    // Not signed in: the shell sends the user to the login page.
    await page.getByRole('heading', { name: 'Sign in to the console' }).waitFor();
    await page.getByLabel('API key').fill('plt_wrong_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /Sign-in failed/);

    await page.getByLabel('API key').fill(server.registry.adminKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Adapters' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('palette.console.apiKey')), server.registry.adminKey);
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing outlives the tab');
    // A deep link reloads into the app (SPA fallback) and stays signed in.
    await page.goto('/console/base-models');
    await page.getByRole('heading', { level: 2, name: 'tiny-console' }).waitFor();
    await context.close();
    assertNoBrowserErrors(errors().filter((e) => !/status of 401/.test(e)));
  });
});

describe('console: upload an adapter and find it', () => {
  it('shows validation errors inline, uploads, shows the detail page, and finds it by text with a score', { timeout: 60_000 }, async () => {
    const { page, context, errors } = await browser.newPage(server.url);
    await signIn(page, server.registry.adminKey);
    await page.getByRole('link', { name: 'Upload adapter' }).click();
    await page.getByRole('heading', { name: 'Upload an adapter' }).waitFor();

    // Bad name and no files: each error sits at its field, tied to it for screen readers.
    await page.getByLabel('Name', { exact: true }).fill('bad name!');
    await page.getByRole('button', { name: 'Upload' }).click();
    const nameInput = page.getByLabel('Name', { exact: true });
    await page.locator('#name-error').waitFor();
    assert.equal(await nameInput.getAttribute('aria-invalid'), 'true');
    assert.match((await nameInput.getAttribute('aria-describedby')) ?? '', /name-error/);
    assert.match(await page.locator('#adapter_model-error').innerText(), /safetensors/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'upload-name', 'focus moves to the first invalid field');

    // A config the registry rejects (rank that does not match the tensors) comes back at the config field.
    const files = makeAdapterFiles(base, { r: 4, seed: 33 });
    const wrongConfig = Buffer.from(JSON.stringify({ ...JSON.parse(files.configJson.toString()), r: 3 }));
    await nameInput.fill('legal-de');
    await page.getByLabel('Base model').selectOption('tiny-console');
    await page.getByLabel('Description').fill('summarise german legal contracts in plain words');
    await page.getByLabel('Tags').fill('legal, lang:de');
    await page.getByLabel('adapter_config.json').setInputFiles({ name: 'adapter_config.json', mimeType: 'application/json', buffer: wrongConfig });
    await page.getByLabel('adapter_model.safetensors').setInputFiles({ name: 'adapter_model.safetensors', mimeType: 'application/octet-stream', buffer: files.safetensors });
    await page.getByRole('button', { name: 'Upload' }).click();
    const serverError = await page.locator('#adapter_config-error, #adapter_model-error').first().innerText();
    assert.ok(serverError.length > 0, 'the registry\'s refusal is shown at a file field');

    await page.getByLabel('adapter_config.json').setInputFiles({ name: 'adapter_config.json', mimeType: 'application/json', buffer: files.configJson });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.getByRole('heading', { level: 1, name: 'legal-de' }).waitFor();
    await page.getByText('Uploaded as v1.').waitFor();
    // Per-layer statistics computed in the browser from the stored safetensors.
    const bars = page.getByRole('list', { name: 'LoRA weight norm per layer' }).getByRole('listitem');
    await bars.first().waitFor();
    assert.equal(await bars.count(), base.config.numLayers);
    await page.getByRole('img', { name: /Lineage of legal-de@v1/ }).waitFor();
    await page.getByRole('link', { name: /recipes-fr/ }).waitFor(); // nearest neighbour

    // Find it by what it does.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Adapters' }).click();
    await page.getByLabel('Search').fill('german contracts');
    await page.getByRole('button', { name: 'Search' }).click();
    const row = page.getByRole('row', { name: /legal-de/ });
    await row.waitFor();
    assert.match(await row.innerText(), /\d\.\d{3}/, 'the hit shows its relevance score');
    assert.equal(await page.getByRole('row', { name: /recipes-fr/ }).count(), 0, 'the unrelated adapter does not match');
    await context.close();
    assertNoBrowserErrors(errors().filter((e) => !/status of 400/.test(e)));
  });
});

describe('console: API keys', () => {
  it('revokes a key from the keys page (phone width), after which the key is refused', { timeout: 60_000 }, async () => {
    const created = await server.registry.http.post('/api/v1/keys').set('authorization', `Bearer ${server.registry.adminKey}`).send({ name: 'ci-robot', role: 'reader' }).expect(201);
    const robotKey = created.body.key as string;
    await server.registry.http.get('/api/v1/adapters').set('authorization', `Bearer ${robotKey}`).expect(200);

    const { page, context, errors } = await browser.newPage(server.url, PHONE);
    await signIn(page, server.registry.adminKey);
    // On a phone the navigation sits behind the menu button.
    const menu = page.getByRole('button', { name: 'Menu' });
    assert.equal(await menu.getAttribute('aria-expanded'), 'false');
    await menu.click();
    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByRole('heading', { level: 1, name: 'API keys' }).waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke ci-robot' }).click();
    await page.locator('tr[data-key-name="ci-robot"]').getByText('revoked').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Revoke ci-robot' }).count(), 0);
    await context.close();

    await server.registry.http.get('/api/v1/adapters').set('authorization', `Bearer ${robotKey}`).expect(401);
    assertNoBrowserErrors(errors());
  });
});
