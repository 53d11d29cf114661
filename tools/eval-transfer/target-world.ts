/**
 * The SECOND base model of `npm run eval:transfer`: another width, depth and seed than the
 * evaluation world's base, and another vocabulary, pretrained with the world pipeline's own
 * functions (peft-core world/recipe.ts: corpus, init, trainer options), then given real-data
 * adapters for the evaluated tasks by tools/world's `buildWorld` (reusing this base) — those are
 * comparison (iii), and the build's evaluation gives (ii) the target base alone.
 *
 * Another vocabulary: the world tokenizer has no merges (258 byte-level ids whatever its seed),
 * so a tokenizer trained with other settings would be identical. The target's tokenizer is the
 * world tokenizer with its ids reversed (id → V−1−id): the same segmentation, but no id means the
 * same string in both models, so only text can pass between them (logit distillation could not).
 *
 * The target's pretraining differs in one more way: its loss covers whole documents, questions
 * included (see targetRecipe), because Trans-LoRA needs a target that can WRITE task prompts.
 *
 * Cached under .data/world/transfer-target/: base-build/ (the pretrained base and a stamp naming
 * its recipe fingerprint) and world/ (tools/world layout and manifest).
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  Trainer,
  exportModel,
  initialBaseWeights,
  pretrainCorpus,
  pretrainTrainerOptions,
  tokenizerVocabSize,
  validateWorldRecipe,
  worldModelConfig,
  worldTokenizer,
  worldTokenizerFiles,
  type WorldRecipe,
  type WorldTokenizerFiles,
} from '@palette/peft-core';
import { buildWorld } from '../world/build-world';
import { seconds, trainingProgress, type Log } from '../world/progress';
import { BASE_DIR, readManifest, recipeFingerprint, type WorldManifest } from '../world/world-manifest';

/** The target's differences from the source recipe (width, depth, heads, seeds); the rest is the world's. */
export function targetRecipe(source: WorldRecipe, tasks: readonly string[]): WorldRecipe {
  return {
    ...source,
    tasks: [...tasks],
    base: { ...source.base, numLayers: 3, hiddenSize: 96, numHeads: 4, numKvHeads: 2, intermediateSize: 256, initSeed: 23 },
    // Full-text loss: with the world's answer-only copy loss a base never models the QUESTIONS, so it
    // cannot write candidate prompts (measured: it answers "Q: ! " with a digit or noise). 800 steps
    // instead of 1000 keeps eval:transfer near its 30-minute budget on 2 cores.
    pretrain: { ...source.pretrain, seed: 5, corpusSeed: 9, answerOnlyCopyLoss: false, steps: 800 },
  };
}

export interface TargetWorld {
  readonly dir: string;
  readonly manifest: WorldManifest;
  readonly pretrainSeconds: number;
  readonly built: boolean;
}

/** The world tokenizer with reversed ids (see the file comment). */
export function reversedIdTokenizer(files: WorldTokenizerFiles): WorldTokenizerFiles {
  const size = tokenizerVocabSize(files);
  const flip = (id: number): number => size - 1 - id;
  const json = structuredClone(files.tokenizerJson);
  json.model.vocab = Object.fromEntries(Object.entries(json.model.vocab).map(([token, id]) => [token, flip(id)]));
  json.added_tokens = json.added_tokens.map((t) => ({ ...t, id: flip(t.id) }));
  return { tokenizerJson: json, tokenizerConfig: files.tokenizerConfig };
}

const STAMP = 'target-base.json';
const TOKENIZER_VARIANT = 'reversed-ids-v1';

export async function ensureTargetWorld(root: string, recipe: WorldRecipe, log: Log, rebuild = false): Promise<TargetWorld> {
  validateWorldRecipe(recipe);
  const baseBuild = path.join(root, 'base-build');
  const worldDir = path.join(root, 'world');
  const fingerprint = createHash('sha256').update(JSON.stringify({ base: recipe.base, pretrain: recipe.pretrain, tokenizer: recipe.tokenizer, variant: TOKENIZER_VARIANT })).digest('hex');
  const stamp = rebuild ? undefined : await readJson<{ fingerprint: string; seconds: number }>(path.join(baseBuild, STAMP));
  let pretrainSeconds: number;
  let baseBuilt = false;
  if (stamp?.fingerprint === fingerprint) {
    pretrainSeconds = stamp.seconds;
    log(`target base: cached in ${baseBuild} (pretrained in ${pretrainSeconds.toFixed(0)}s)`);
  } else {
    pretrainSeconds = await pretrainTarget(baseBuild, recipe, fingerprint, log);
    baseBuilt = true;
  }
  const cached = baseBuilt ? undefined : await readManifest(worldDir);
  if (cached !== undefined && cached.recipeFingerprint === recipeFingerprint(recipe)) {
    log(`target world: cached in ${worldDir} (built ${cached.machine.builtAt})`);
    return { dir: worldDir, manifest: cached, pretrainSeconds, built: false };
  }
  log(`target world: training real-data adapters (comparison iii) for ${recipe.tasks.join(', ')}`);
  const manifest = await buildWorld({ recipe, worldDir, log, reuseBaseFrom: baseBuild });
  return { dir: worldDir, manifest, pretrainSeconds, built: true };
}

async function pretrainTarget(baseBuild: string, recipe: WorldRecipe, fingerprint: string, log: Log): Promise<number> {
  const t0 = performance.now();
  const files = reversedIdTokenizer(worldTokenizerFiles(recipe));
  const tokenizer = worldTokenizer(files);
  const vocabSize = tokenizerVocabSize(files);
  const config = worldModelConfig(recipe, tokenizer, vocabSize);
  const weights = initialBaseWeights(config, recipe);
  const parameters = [...weights.values()].reduce((n, t) => n + t.data.length, 0);
  log(
    `target base: pretraining ${config.numLayers} layers, hidden ${config.hiddenSize}, ${(parameters / 1e6).toFixed(2)}M parameters, ${recipe.pretrain.steps} steps (${os.cpus().length} cores, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')})`,
  );
  const dir = path.join(baseBuild, BASE_DIR);
  await fsp.rm(baseBuild, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson) + '\n');
  await fsp.writeFile(path.join(dir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
  const trainer = await Trainer.create({ config, weights, tokenizer, train: pretrainCorpus(recipe), options: pretrainTrainerOptions(recipe) });
  try {
    await trainer.train({ onProgress: trainingProgress('target pretrain', log) });
    await exportModel(dir, config, trainer.baseWeights());
  } finally {
    await trainer.dispose();
  }
  const secs = seconds(t0);
  // The stamp is written last: a directory without it is an interrupted build.
  await fsp.writeFile(path.join(baseBuild, STAMP), JSON.stringify({ fingerprint, seconds: secs, loss: trainer.losses.at(-1) ?? null }, null, 2) + '\n');
  log(`target base: pretrained in ${secs.toFixed(0)}s, final loss ${(trainer.losses.at(-1) ?? Number.NaN).toFixed(3)}`);
  return secs;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}
