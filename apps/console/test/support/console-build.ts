import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** apps/console */
export const CONSOLE_ROOT = path.resolve(__dirname, '../..');
export const CONSOLE_DIST = path.join(CONSOLE_ROOT, 'dist');
const INPUTS = ['src', 'index.html', 'vite.config.ts', 'package.json'];

function newestInput(entry: string): number {
  const info = statSync(entry);
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(info.mtimeMs, ...readdirSync(entry).map((name) => newestInput(path.join(entry, name))));
}

/** True when dist/index.html is missing or older than any source file. */
export function consoleBuildIsStale(): boolean {
  const index = path.join(CONSOLE_DIST, 'index.html');
  if (!existsSync(index)) return true;
  const built = statSync(index).mtimeMs;
  return INPUTS.some((input) => newestInput(path.join(CONSOLE_ROOT, input)) > built);
}

/**
 * Builds the console (vite build → apps/console/dist) when its sources changed since the last
 * build, so a test run builds at most once. A directory lock keeps two test processes from
 * building into the same folder at once.
 */
export function ensureConsoleBuilt(): string {
  if (!consoleBuildIsStale()) return CONSOLE_DIST;
  const lock = path.join(CONSOLE_ROOT, '.build-lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than two minutes belongs to a build that died.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000) rmdirSync(lock);
      if (Date.now() > deadline) throw new Error(`console build lock ${lock} is held for too long`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
    }
  }
  try {
    if (!consoleBuildIsStale()) return CONSOLE_DIST;
    const vite = path.join(path.dirname(require.resolve('vite/package.json', { paths: [CONSOLE_ROOT] })), 'bin/vite.js');
    const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: CONSOLE_ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
    if (result.status !== 0) throw new Error(`vite build failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    return CONSOLE_DIST;
  } finally {
    rmdirSync(lock);
  }
}
