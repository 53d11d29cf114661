import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';

/** Signs in through the login page with `key` and waits for the adapters page. */
export async function signIn(page: Page, key: string): Promise<void> {
  await page.goto('/console/login');
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Adapters' }).waitFor();
}

/** Fails with every browser error collected so far. */
export function assertNoBrowserErrors(errors: readonly string[]): void {
  assert.deepEqual(errors, [], `the browser reported errors:\n${errors.join('\n')}`);
}
