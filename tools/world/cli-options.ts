/**
 * Command-line options shared by the world scripts. Overrides exist for recipe search: e.g.
 * `--set lora.steps=150 --set lora.lr=0.005 --tasks reverse-word,add-numbers --reuse-base .data/world/full`.
 */
import * as path from 'node:path';
import { PeftCoreError, worldRecipe, type WorldRecipe } from '@palette/peft-core';

export interface WorldCliOptions {
  readonly recipe: WorldRecipe;
  readonly worldDir: string;
  readonly reuseBaseFrom?: string;
  readonly rebuild: boolean;
}

const DEFAULT_ROOT = '.data/world';

export function parseWorldCli(argv: readonly string[]): WorldCliOptions {
  let variant: 'full' | 'small' = 'full';
  let out: string | undefined;
  let reuseBaseFrom: string | undefined;
  let rebuild = false;
  const sets: [string, string][] = [];
  let tasks: string[] | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw usage(`${flag} needs a value`);
      return v;
    };
    if (flag === '--variant') {
      const v = value();
      if (v !== 'full' && v !== 'small') throw usage(`--variant must be full or small, got '${v}'`);
      variant = v;
    } else if (flag === '--small') variant = 'small';
    else if (flag === '--out') out = value();
    else if (flag === '--reuse-base') reuseBaseFrom = value();
    else if (flag === '--rebuild') rebuild = true;
    else if (flag === '--tasks') tasks = value().split(',').filter((s) => s !== '');
    else if (flag === '--set') {
      const [key, v] = value().split('=', 2);
      if (key === undefined || v === undefined) throw usage(`--set wants key.path=value, got '${argv[i]}'`);
      sets.push([key, v]);
    } else throw usage(`unknown option '${flag}'`);
  }
  let recipe: WorldRecipe = worldRecipe(variant);
  if (tasks !== undefined) recipe = { ...recipe, tasks };
  for (const [key, v] of sets) recipe = withValue(recipe, key, v);
  return { recipe, worldDir: path.resolve(out ?? path.join(DEFAULT_ROOT, variant)), ...(reuseBaseFrom !== undefined ? { reuseBaseFrom: path.resolve(reuseBaseFrom) } : {}), rebuild };
}

function usage(message: string): PeftCoreError {
  return new PeftCoreError('INVALID_ARGUMENT', `${message}\nusage: [--variant full|small] [--out DIR] [--rebuild] [--tasks a,b] [--set lora.steps=150] [--reuse-base WORLD_DIR]`);
}

/** A copy of the recipe with one numeric (or JSON) field replaced; the path must already exist. */
function withValue(recipe: WorldRecipe, key: string, raw: string): WorldRecipe {
  const [section, field, ...rest] = key.split('.');
  const sectionValue: unknown = section !== undefined ? (recipe as unknown as Record<string, unknown>)[section] : undefined;
  if (field === undefined || rest.length > 0 || typeof sectionValue !== 'object' || sectionValue === null || !(field in sectionValue)) {
    throw usage(`--set: '${key}' is not a recipe field (section.field)`);
  }
  const value: unknown = JSON.parse(raw);
  return { ...recipe, [section!]: { ...sectionValue, [field]: value } } as WorldRecipe;
}
