/** The seeder's command line (`npm run seed:world -- ...`), parsed and checked in one place. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { RecipeOverrides } from './world-material';

export const USAGE = `usage: npm run seed:world -- [options]
  --registry URL        registry-api base URL (env REGISTRY_URL; default http://127.0.0.1:8080)
  --key KEY             a writer (or admin) API key (env PALETTE_API_KEY)
  --key-file FILE       read the key from FILE (default: $DATA_DIR/bootstrap-admin-key)
  --variant full|small  which recipe (default full; small is the test suite's 4-task world)
  --base-name NAME      name of the pretrained base (default world-base)
  --from-dir DIR        import a world built by \`npm run eval:world\` (e.g. .data/world/full) instead of training;
                        it keeps the directory's own recipe (and so its fingerprint, names and tags)
  --check               only say whether the world is ready (exit 0) or not (exit 3)
  --progress-every S    seconds between progress lines of one job (default 5)
  test-only, shorten the runs (the fingerprint, and so every name and key, changes with them):
  --pretrain-steps N  --lora-steps N  --eval-examples N  --train-examples N`;

export class UsageError extends Error {}

export interface SeedCliOptions {
  readonly registry: string;
  readonly apiKey: string;
  readonly variant: 'full' | 'small';
  readonly baseName: string;
  readonly fromDir: string | undefined;
  readonly check: boolean;
  readonly progressEveryMs: number;
  readonly overrides: RecipeOverrides;
}

export function parseSeedCli(argv: readonly string[], env: NodeJS.ProcessEnv, cwd = process.cwd()): SeedCliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        registry: { type: 'string' },
        key: { type: 'string' },
        'key-file': { type: 'string' },
        variant: { type: 'string' },
        'base-name': { type: 'string' },
        'from-dir': { type: 'string' },
        check: { type: 'boolean' },
        'progress-every': { type: 'string' },
        'pretrain-steps': { type: 'string' },
        'lora-steps': { type: 'string' },
        'eval-examples': { type: 'string' },
        'train-examples': { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) throw new UsageError('');
  const problems: string[] = [];
  const registry = values.registry ?? env.REGISTRY_URL ?? 'http://127.0.0.1:8080';
  if (!/^https?:\/\/[^/]+/.test(registry)) problems.push(`--registry must be an http(s) URL, got ${JSON.stringify(registry)}`);
  const variant = values.variant ?? 'full';
  if (variant !== 'full' && variant !== 'small') problems.push(`--variant must be full or small, got ${JSON.stringify(variant)}`);
  const count = (name: string, raw: string | undefined, min = 1): number | undefined => {
    if (raw === undefined) return undefined;
    if (!/^\d+$/.test(raw) || Number(raw) < min) {
      problems.push(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
      return undefined;
    }
    return Number(raw);
  };
  const progressEvery = count('progress-every', values['progress-every'], 0) ?? 5;
  let apiKey = values.key ?? env.PALETTE_API_KEY;
  if (apiKey === undefined) {
    const file = values['key-file'] ?? path.join(path.resolve(cwd, env.DATA_DIR || '.data'), 'bootstrap-admin-key');
    try {
      apiKey = readFileSync(file, 'utf8').trim();
      if (apiKey === '') problems.push(`the key file ${file} is empty`);
    } catch (e) {
      problems.push(`no API key: give --key, PALETTE_API_KEY or --key-file (${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  const overrides: RecipeOverrides = {
    ...opt('pretrainSteps', count('pretrain-steps', values['pretrain-steps'])),
    ...opt('loraSteps', count('lora-steps', values['lora-steps'])),
    ...opt('evalExamples', count('eval-examples', values['eval-examples'])),
    ...opt('trainExamples', count('train-examples', values['train-examples'])),
  };
  if (values['from-dir'] !== undefined && Object.keys(overrides).length > 0) problems.push('--from-dir imports a built world as it is: the run-length options do not apply');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  return {
    registry,
    apiKey: apiKey!,
    variant: variant as 'full' | 'small',
    baseName: values['base-name'] ?? 'world-base',
    fromDir: values['from-dir'],
    check: values.check ?? false,
    progressEveryMs: progressEvery * 1000,
    overrides,
  };
}

function opt<K extends string>(key: K, value: number | undefined): Partial<Record<K, number>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, number>);
}
