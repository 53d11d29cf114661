/**
 * Builds the evaluation world in-process (no queues) following the recipe, with progress output.
 *
 * Usage: node tools/run-ts.js tools/world/build-world-direct.ts [--variant full|small] [--out DIR]
 *          [--tasks a,b] [--set section.field=value] [--reuse-base WORLD_DIR]
 * Default output: .data/world/<variant>.
 */
import { buildWorld } from './build-world';
import { parseWorldCli } from './cli-options';
import { printWorldReport } from './report';

async function main(): Promise<void> {
  const cli = parseWorldCli(process.argv.slice(2));
  const manifest = await buildWorld({
    recipe: cli.recipe,
    worldDir: cli.worldDir,
    log: (line) => console.log(line),
    ...(cli.reuseBaseFrom !== undefined ? { reuseBaseFrom: cli.reuseBaseFrom } : {}),
  });
  printWorldReport(manifest, (line) => console.log(line));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
