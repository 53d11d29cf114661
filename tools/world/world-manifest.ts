/**
 * The built world on disk: where each artifact lives, what recipe made it, how long each part
 * took and how well each adapter does. `world-manifest.json` is written last, so a directory
 * with a manifest whose fingerprint matches the recipe is a complete, reusable build.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { WorldRecipe } from '@palette/peft-core';

export const MANIFEST_FILE = 'world-manifest.json';
export const BASE_DIR = 'base';
export const ADAPTERS_DIR = 'adapters';

export interface TaskEvaluation {
  readonly examples: number;
  readonly baseAccuracy: number;
  readonly adapterAccuracy: number;
  readonly samples: readonly { readonly input: string; readonly base: string; readonly adapter: string; readonly answer: string }[];
}

export interface WorldTaskEntry {
  readonly id: string;
  readonly title: string;
  readonly marker: string;
  readonly descriptions: readonly string[];
  readonly heldOutDescriptions: readonly string[];
  /** Relative to the world directory. */
  readonly adapterDir: string;
  readonly trainSeconds: number;
  readonly finalLoss: number;
  /** The runs validation judged (recipe.lora.validation): each run's accuracy in order, and which was kept. */
  readonly validation?: { readonly accuracies: readonly number[]; readonly kept: number };
  readonly evaluation?: TaskEvaluation;
}

export interface WorldManifest {
  readonly variant: WorldRecipe['variant'];
  /** sha256 of the recipe: a manifest with another fingerprint is stale. */
  readonly recipeFingerprint: string;
  readonly recipe: WorldRecipe;
  readonly base: {
    readonly dir: string;
    readonly vocabSize: number;
    readonly parameters: number;
    readonly pretrainFinalLoss: number;
    /** Share of the corpus's copy questions the base answers (it should know the format). */
    readonly copyAccuracy?: number;
  };
  readonly tasks: readonly WorldTaskEntry[];
  readonly timings: {
    readonly tokenizerSeconds: number;
    readonly pretrainSeconds: number;
    readonly adaptersSeconds: number;
    /** Tokenizer + pretraining + every adapter: the wall time of the build proper. */
    readonly buildSeconds: number;
    readonly evaluationSeconds?: number;
  };
  /** Where the timings were taken: core count and load average at the start of the build. */
  readonly machine: { readonly cpus: number; readonly loadAverage: readonly number[]; readonly builtAt: string };
}

export function recipeFingerprint(recipe: WorldRecipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex');
}

export async function readManifest(worldDir: string): Promise<WorldManifest | undefined> {
  const file = path.join(worldDir, MANIFEST_FILE);
  const text = await fsp.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  return text === undefined ? undefined : (JSON.parse(text) as WorldManifest);
}

export async function writeManifest(worldDir: string, manifest: WorldManifest): Promise<void> {
  // Write then rename, so a crash never leaves a half-written manifest that looks complete.
  const file = path.join(worldDir, MANIFEST_FILE);
  await fsp.writeFile(`${file}.tmp`, JSON.stringify(manifest, null, 2) + '\n');
  await fsp.rename(`${file}.tmp`, file);
}
