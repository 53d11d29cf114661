import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const LAPTOP = { width: 1280, height: 800 } as const;
export const PHONE = { width: 390, height: 844 } as const;

/** A page plus every error the browser reported on it (console errors and uncaught exceptions). */
export interface WatchedPage {
  readonly page: Page;
  readonly context: BrowserContext;
  errors(): string[];
}

export interface ConsoleBrowser {
  /** A fresh context (own sessionStorage) at this viewport, opened on `baseUrl`. */
  newPage(baseUrl: string, viewport?: { width: number; height: number }): Promise<WatchedPage>;
  close(): Promise<void>;
}

/** Debian's Chromium through playwright-core (npx playwright install cannot download browsers here). */
export async function launchBrowser(): Promise<ConsoleBrowser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  // Playwright gives launch() a fresh profile; this keeps crash dumps and caches in our own temp dir.
  const scratch = mkdtempSync(path.join(tmpdir(), 'console-chromium-'));
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    env: { ...process.env, HOME: scratch, XDG_CONFIG_HOME: scratch, XDG_CACHE_HOME: scratch },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--crash-dumps-dir=${scratch}`],
  });
  return {
    async newPage(baseUrl, viewport = LAPTOP) {
      const context = await browser.newContext({ baseURL: baseUrl, viewport, acceptDownloads: true });
      // Fail a step in seconds rather than hang the test file.
      context.setDefaultTimeout(15_000);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console.error: ${message.text()} (${message.location().url})`);
      });
      page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
      return { page, context, errors: () => [...errors] };
    },
    async close() {
      await browser.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
