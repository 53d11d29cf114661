/**
 * `npm run seed:world`: builds the evaluation world on a running platform through its job API
 * (see README.md). Ctrl-C stops following; the jobs keep running, and a second run reattaches.
 * Exit status: 0 world ready, 1 failed, 2 usage, 3 not ready (--check), 130 interrupted.
 */
import * as path from 'node:path';
import { worldRecipe, type WorldRecipe } from '@palette/peft-core';
import { readManifest } from '../world/world-manifest';
import { parseSeedCli, UsageError, USAGE } from './cli-options';
import { RegistryClient, RegistryError } from './registry-client';
import { SeedError } from './seed-error';
import { seedWorld, worldReady } from './seeder';
import { applyOverrides } from './world-material';

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<number> {
  let options;
  try {
    options = parseSeedCli(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) process.stderr.write(`${e.message}\n`);
      process.stderr.write(`${USAGE}\n`);
      return e.message ? 2 : 0;
    }
    throw e;
  }
  const client = new RegistryClient({ baseUrl: options.registry, apiKey: options.apiKey });
  let recipe: WorldRecipe = applyOverrides(worldRecipe(options.variant), options.overrides);
  if (options.fromDir !== undefined) {
    // An import registers the world the directory holds: its own recipe (names, tags and the
    // evaluate jobs follow it), which may be older than recipe.ts while the recipe is being tuned.
    const manifest = await readManifest(path.resolve(options.fromDir));
    if (manifest === undefined) {
      log(`seeding failed: --from-dir ${options.fromDir}: no world-manifest.json (build it with \`npm run eval:world -- --variant ${options.variant}\`)`);
      return 1;
    }
    if (JSON.stringify(manifest.recipe) !== JSON.stringify(recipe)) log(`--from-dir: importing the directory's own '${manifest.recipe.variant}' recipe (${manifest.recipeFingerprint.slice(0, 8)}), not today's recipe.ts`);
    recipe = manifest.recipe;
  }
  if (options.check) {
    const ready = await worldReady(client, recipe, options.baseName);
    log(ready ? 'world ready' : 'world not ready');
    return ready ? 0 : 3;
  }
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) process.exit(130);
    log('interrupted: the jobs keep running on the platform; run the seeder again to reattach');
    abort.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await seedWorld({ client, recipe, baseName: options.baseName, log, progressEveryMs: options.progressEveryMs, signal: abort.signal, ...(options.fromDir !== undefined ? { fromDir: options.fromDir } : {}) });
    return 0;
  } catch (e) {
    if (abort.signal.aborted) return 130;
    if (e instanceof SeedError || e instanceof RegistryError) {
      log(`seeding failed: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(`seeding failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);
