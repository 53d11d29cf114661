/**
 * The launcher's last step: build the evaluation world on the running platform with the world
 * seeder (tools/world-seed), in the background so the platform is usable meanwhile, its progress
 * printed here and its jobs on the console's Jobs page. On later starts the seeder finds the
 * finished world in one request ("world ready") and exits, or reattaches to its unfinished jobs.
 *
 * Which world: `npm run up -- --world small|full|skip` (or `--no-seed`), else WORLD_SEED
 * (full|small|skip), else full. `--world-from DIR` (or WORLD_SEED_FROM) imports a world that
 * `npm run eval:world` built in DIR instead of training it (the seeder's --from-dir).
 */
import { join, resolve } from 'node:path';
import type { LaunchContext } from './services';
import type { ServiceSpec } from './supervisor';

export type WorldChoice = 'full' | 'small' | 'skip';

export class SeedChoiceError extends Error {}

export interface SeedingPlan {
  readonly world: WorldChoice;
  /** Import this prebuilt world directory instead of training. */
  readonly fromDir?: string;
}

export function worldChoice(argv: readonly string[], env: NodeJS.ProcessEnv): WorldChoice {
  return seedingPlan(argv, env).world;
}

export function seedingPlan(argv: readonly string[], env: NodeJS.ProcessEnv): SeedingPlan {
  let choice: string | undefined;
  let fromDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--no-seed') choice = 'skip';
    else if (arg === '--world') choice = argv[++i];
    else if (arg.startsWith('--world=')) choice = arg.slice('--world='.length);
    else if (arg === '--world-from') fromDir = argv[++i];
    else if (arg.startsWith('--world-from=')) fromDir = arg.slice('--world-from='.length);
    else throw new SeedChoiceError(`unknown argument ${JSON.stringify(arg)} (npm run up -- [--world full|small|skip] [--no-seed] [--world-from DIR])`);
  }
  choice ??= env.WORLD_SEED || 'full';
  fromDir ??= env.WORLD_SEED_FROM || undefined;
  if (choice !== 'full' && choice !== 'small' && choice !== 'skip') {
    throw new SeedChoiceError(`the world to seed must be full, small or skip, got ${JSON.stringify(choice ?? '')} (--world or WORLD_SEED)`);
  }
  if (fromDir === '') throw new SeedChoiceError('--world-from needs a directory (a world built by `npm run eval:world`, e.g. .data/world/full)');
  return { world: choice, ...(fromDir !== undefined && choice !== 'skip' ? { fromDir } : {}) };
}

/** The seeder as a background process of the launcher, authenticated with the service key. */
export function seederSpec(ctx: LaunchContext, variant: 'full' | 'small', serviceKeyFile: string, fromDir?: string): ServiceSpec {
  return {
    name: 'world-seed',
    kind: 'background',
    command: process.execPath,
    args: [
      join(ctx.root, 'tools/run-ts.js'),
      join(ctx.root, 'tools/world-seed/main.ts'),
      '--registry',
      `http://${ctx.host}:${ctx.apiPort}`,
      '--key-file',
      serviceKeyFile,
      '--variant',
      variant,
      ...(fromDir !== undefined ? ['--from-dir', resolve(ctx.root, fromDir)] : []),
    ],
    cwd: ctx.root,
    env: { ...ctx.env, DATA_DIR: ctx.dataDir },
    readiness: { kind: 'none' },
    startTimeoutMs: 0,
  };
}

/** What the launcher prints when the seeder ends: a success line, or why and how to go on. */
export function seedOutcomeLine(code: number | null, variant: 'full' | 'small'): string {
  if (code === 0) return `evaluation world (${variant}) ready`;
  if (code === 130 || code === null) return 'world seeding stopped; its jobs resume at the next `npm run up`';
  return `world seeding failed (exit ${code}); the platform keeps running. Fix the cause shown above and run \`npm run seed:world -- --variant ${variant}\` (it resumes), or restart with --world skip`;
}
