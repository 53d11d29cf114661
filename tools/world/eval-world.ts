/**
 * `npm run eval:world`: per task, the base model's and the adapter's exact-match accuracy on
 * held-out examples, the means, and the wall time of the build (pretraining + all adapters).
 * Loads the built world from .data/world/<variant> (building it first when it is absent, or
 * when it was built from another recipe) and re-scores it from the files on disk.
 *
 * Usage: npm run eval:world -- [--variant full|small] [--out DIR] [--rebuild] [--reuse-base WORLD_DIR]
 */
import * as path from 'node:path';
import { loadCheckpoint } from '@palette/peft-core';
import { loadTokenizerDir } from '@palette/peft-core/cli/commands';
import { buildWorld } from './build-world';
import { parseWorldCli } from './cli-options';
import { evaluateWorld } from './evaluate-world';
import { printWorldReport } from './report';
import { readManifest, recipeFingerprint, writeManifest, type WorldManifest } from './world-manifest';

async function main(): Promise<void> {
  const cli = parseWorldCli(process.argv.slice(2));
  const log = (line: string): void => console.log(line);
  const cached = cli.rebuild ? undefined : await readManifest(cli.worldDir);
  let manifest: WorldManifest;
  if (cached !== undefined && cached.recipeFingerprint === recipeFingerprint(cli.recipe)) {
    log(`loading the '${cached.variant}' world from ${cli.worldDir} (built ${cached.machine.builtAt})`);
    const baseDir = path.join(cli.worldDir, cached.base.dir);
    const base = { checkpoint: await loadCheckpoint(baseDir), tokenizer: await loadTokenizerDir(baseDir) };
    manifest = await evaluateWorld(cli.worldDir, cached, base, log);
    await writeManifest(cli.worldDir, manifest);
  } else {
    if (cached !== undefined) log(`the world in ${cli.worldDir} was built from another recipe: rebuilding`);
    // --reuse-base: adapters only, on an earlier build's base (same pretraining recipe); the
    // manifest then times pretraining as 0 s, so report that build's pretraining time with it.
    manifest = await buildWorld({ recipe: cli.recipe, worldDir: cli.worldDir, log, ...(cli.reuseBaseFrom !== undefined ? { reuseBaseFrom: cli.reuseBaseFrom } : {}) });
  }
  printWorldReport(manifest, log);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
