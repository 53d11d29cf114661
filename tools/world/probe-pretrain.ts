/**
 * Recipe search for the base alone: pretrains following the recipe (with --set overrides) and
 * measures, every --every steps, how often the base copies the corpus's own copy questions
 * (the induction ability every adapter builds on). Optionally saves the base (--out DIR) in the
 * world layout so build-world-direct.ts --reuse-base can train adapters on it.
 *
 * Usage: node tools/run-ts.js tools/world/probe-pretrain.ts [--set pretrain.lr=0.003] [--every 100] [--out DIR]
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { CORPUS_ANSWER_SEPARATOR, CORPUS_MARKERS, LlamaModel, Rng, Trainer, genericCorpus, exportModel, initialBaseWeights, pretrainCorpus, pretrainTrainerOptions, tokenizerVocabSize, validateWorldRecipe, worldModelConfig, worldTokenizer, worldTokenizerFiles } from '@palette/peft-core';
import { parseWorldCli } from './cli-options';
import { baseCopyAccuracy, pct } from './evaluate-world';
import { trainingProgress } from './progress';
import { BASE_DIR } from './world-manifest';

/** Seed of the held-out copy questions (a stream the pretraining corpus does not use). */
const COPY_LOSS_SEED = 0xc0b7;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  // --every is this script's own flag; the rest are the world CLI's (--set, --out, --variant).
  let every = 100;
  const everyAt = argv.indexOf('--every');
  if (everyAt >= 0) {
    const raw = argv[everyAt + 1] ?? '';
    every = Number(raw);
    argv.splice(everyAt, 2);
    if (!Number.isInteger(every) || every <= 0) throw new Error(`--every wants a positive integer, got '${raw}'`);
  }
  const saveBase = argv.includes('--out');
  const cli = parseWorldCli(argv);
  const recipe = cli.recipe;
  validateWorldRecipe(recipe);
  const files = worldTokenizerFiles(recipe);
  const tokenizer = worldTokenizer(files);
  const config = worldModelConfig(recipe, tokenizer, tokenizerVocabSize(files));
  // Answer-only loss on held-out copy questions: falls long before exact-match copying appears.
  const copyQuestions = genericCorpus(new Rng(COPY_LOSS_SEED), 600)
    .filter((d) => d.startsWith(`Q: ${CORPUS_MARKERS.copyWord} `))
    .map((d) => {
      const end = d.indexOf(CORPUS_ANSWER_SEPARATOR) + CORPUS_ANSWER_SEPARATOR.length;
      return { prompt: d.slice(0, end), completion: d.slice(end) };
    });
  const trainer = await Trainer.create({ config, weights: initialBaseWeights(config, recipe), tokenizer, train: pretrainCorpus(recipe), eval: copyQuestions, options: pretrainTrainerOptions(recipe) });
  const started = performance.now();
  try {
    for (let step = every; ; step += every) {
      const result = await trainer.train({ stopAfterStep: step, onProgress: trainingProgress('pretrain', console.log, 4) });
      const model = LlamaModel.create({ config, weights: trainer.baseWeights() });
      const copy = await baseCopyAccuracy(model, tokenizer, recipe);
      await model.dispose();
      const copyLoss = await trainer.evaluate();
      console.log(`step ${result.step}: loss ${trainer.losses.at(-1)?.toFixed(4)}, copy answer loss ${copyLoss?.toFixed(3)}, copies ${pct(copy)}, ${((performance.now() - started) / 1000).toFixed(0)}s`);
      if (result.status === 'completed') break;
    }
    if (saveBase) {
      const baseDir = path.join(cli.worldDir, BASE_DIR);
      await fsp.mkdir(baseDir, { recursive: true });
      await fsp.writeFile(path.join(baseDir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson) + '\n');
      await fsp.writeFile(path.join(baseDir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
      await exportModel(baseDir, config, trainer.baseWeights());
      console.log(`base saved to ${baseDir}`);
    }
  } finally {
    await trainer.dispose();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
