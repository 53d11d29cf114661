/**
 * `npm run eval:retrieval`: the retriever and the `auto` routing strategy on the evaluation world.
 *
 * 1. Loads the built world (.data/world/<variant>, tools/world's manifest; build it first with
 *    `npm run eval:world` when absent).
 * 2. Captions per adapter, exactly as the `train-retriever` job derives them (peft-core
 *    `adapterCaptions`): the task's registered descriptions, its title, its tags and a model card
 *    with usage examples from the task's TRAIN split (`exampleCard`). The held-out paraphrases
 *    (`heldOutDescriptions`) and the eval-split inputs are never shown to training.
 * 3. Trains the retriever (`trainRetriever`, base-model text encoder) and embeds every adapter.
 * 4. Text → adapter recall@1 / recall@3 over the held-out paraphrases (goals ≥ 0.9 / ≥ 0.98).
 * 5. `auto` routing on single-task prompts of each task's eval split: the router's decision code
 *    (`routeAuto`: top k ≤ 3 by cosine, softmax(cos / T) weights) with an in-process search over the
 *    same vectors the registry would hold, a `cat` mixture (`combineAdapters`, as the router's
 *    AdapterService builds it), greedy decoding, exact match — next to the oracle (the task's own
 *    adapter) on the same prompts (goal: within 5 points).
 *
 * Usage: npm run eval:retrieval -- [--world DIR] [--prompts N] [--steps N] [--seed N] [--k N] [--temperature T]
 * Run it with `nice -n 10` on a shared machine.
 */
import { performance } from 'node:perf_hooks';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BaseModelTextEncoder,
  DEFAULT_LEXICAL_CONFIG,
  fitLexicalIdf,
  lexicalFeatures,
  meanUnitVector,
  LlamaModel,
  Retriever,
  adapterCaptions,
  combineAdapters,
  encoderLayoutFor,
  exampleCard,
  getWorldTask,
  loadCheckpoint,
  readPeftAdapterDir,
  routeAuto,
  taskSplitOf,
  trainRetriever,
  type LoraWeights,
  type RetrievedAdapter,
} from '@palette/peft-core';
import { loadTokenizerDir } from '@palette/peft-core/cli/commands';
import { taskAccuracy } from '../world/task-accuracy';
import { readManifest } from '../world/world-manifest';

interface Cli {
  readonly worldDir: string;
  readonly prompts: number;
  readonly steps: number;
  readonly seed: number;
  readonly k: number;
  readonly temperature: number;
  readonly cardExamples: number;
  /** Hash buckets of the lexical channel; 0 = the base model's features alone. */
  readonly lexicalBuckets: number;
  /** What the query is compared with (recall misses and auto use it; recall is printed for all three). */
  readonly match: Match;
}

const MATCHES = ['weight', 'text', 'hybrid'] as const;
type Match = (typeof MATCHES)[number];

function parseCli(argv: readonly string[]): Cli {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--') || i + 1 >= argv.length) throw new Error(`usage: eval-retrieval [--world DIR] [--prompts N] [--steps N] [--seed N] [--k N] [--temperature T] [--card-examples N] [--lexical-buckets N (0 = off)] [--match weight|text|hybrid] (bad argument ${a})`);
    values.set(a.slice(2), argv[++i]!);
  }
  const num = (name: string, fallback: number): number => {
    const raw = values.get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${raw}`);
    return n;
  };
  return {
    worldDir: path.resolve(values.get('world') ?? '.data/world/full'),
    prompts: num('prompts', 40),
    steps: num('steps', 400),
    seed: num('seed', 1),
    k: num('k', 3),
    temperature: num('temperature', 0.05),
    cardExamples: num('card-examples', 8),
    lexicalBuckets: num('lexical-buckets', DEFAULT_LEXICAL_CONFIG.buckets),
    match: parseMatch(values.get('match') ?? 'weight'),
  };
}

function parseMatch(value: string): Match {
  if (!(MATCHES as readonly string[]).includes(value)) throw new Error(`--match must be one of ${MATCHES.join(', ')}, got ${value}`);
  return value as Match;
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

async function main(): Promise<void> {
  const cli = parseCli(process.argv.slice(2));
  const started = performance.now();
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const manifest = await readManifest(cli.worldDir);
  if (manifest === undefined) throw new Error(`no world at ${cli.worldDir}: build it with \`npm run eval:world\` (full) first`);
  console.log(`world '${manifest.variant}' at ${cli.worldDir} (built ${manifest.machine.builtAt}, recipe ${manifest.recipeFingerprint.slice(0, 12)}), ${manifest.tasks.length} tasks`);
  const baseDir = path.join(cli.worldDir, manifest.base.dir);
  const checkpoint = await loadCheckpoint(baseDir);
  const tokenizer = await loadTokenizerDir(baseDir);

  // What the registry would hold for each task's adapter: description, card, title, tags.
  const tasks = manifest.tasks.map((entry) => {
    const task = getWorldTask(entry.id);
    const split = taskSplitOf(manifest.recipe, task);
    const description = entry.descriptions.join(' ');
    const examples = split.train.slice(0, cli.cardExamples).map((e) => ({ prompt: task.prompt(e.input), completion: ` ${e.answer}` }));
    const card = exampleCard(entry.title, description, examples);
    const captions = adapterCaptions({ description, card, title: entry.title, tags: ['world', ...entry.id.split('-')] });
    return { entry, task, split, captions };
  });
  const adapters = new Map<string, LoraWeights>();
  for (const t of tasks) adapters.set(t.entry.id, (await readPeftAdapterDir(path.join(cli.worldDir, t.entry.adapterDir), checkpoint.config)).weights);

  const text = await BaseModelTextEncoder.create({
    config: checkpoint.config,
    weights: checkpoint.weights,
    tokenizer: { encode: (s) => tokenizer.encode(s, { addSpecialTokens: false }) },
    id: `world-${manifest.variant}-${manifest.recipeFingerprint.slice(0, 12)}`,
    ...(tokenizer.bosTokenId !== undefined ? { bosTokenId: tokenizer.bosTokenId } : {}),
  });
  const model = LlamaModel.create(checkpoint);
  try {
    const trainStart = performance.now();
    let lastLog = 0;
    const artifact = await trainRetriever({
      adapters: tasks.map((t) => ({ id: t.entry.id, weights: adapters.get(t.entry.id)!, descriptions: t.captions })),
      layout: encoderLayoutFor(checkpoint.config),
      textEncoder: text,
      options: { steps: cli.steps, batchSize: tasks.length, seed: cli.seed, ...(cli.lexicalBuckets > 0 ? { lexical: { ...DEFAULT_LEXICAL_CONFIG, buckets: cli.lexicalBuckets } } : {}) },
      onProgress: (p) => {
        if (p.step - lastLog >= 100 || p.step === p.totalSteps) {
          lastLog = p.step;
          console.log(`  train-retriever step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(3)}`);
        }
      },
    });
    const trainSeconds = (performance.now() - trainStart) / 1000;
    const retriever = await Retriever.create(artifact, text);
    const ids = tasks.map((t) => t.entry.id);
    const zAdapters = await retriever.embedAdapters(ids.map((id) => adapters.get(id)!));
    // The adapters' text vectors, as the registry stores them (normalised mean of their captions).
    const zCaptions = await Promise.all(tasks.map(async (t) => (await retriever.embedCaptions(t.captions))!));
    // What a query is compared with: the weight vector (the registry's search today), the text vector, or their mean cosine.
    const scoreOf = (mode: Match, z: Float32Array, j: number): number =>
      mode === 'weight' ? dot(z, zAdapters[j]!) : mode === 'text' ? dot(z, zCaptions[j]!) : (dot(z, zAdapters[j]!) + dot(z, zCaptions[j]!)) / 2;
    const ranked = (mode: Match, z: Float32Array, k: number): Array<{ j: number; score: number }> =>
      ids
        .map((_, j) => ({ j, score: scoreOf(mode, z, j) }))
        .sort((a, b) => b.score - a.score || a.j - b.j)
        .slice(0, k);

    // Text → adapter recall on the held-out paraphrases, for each way of matching.
    const recall = new Map<Match, { r1: number; r3: number }>();
    let queries = 0;
    const misses: string[] = [];
    for (const mode of MATCHES) recall.set(mode, { r1: 0, r3: 0 });
    for (const t of tasks) {
      const zq = await retriever.embedTexts(t.entry.heldOutDescriptions);
      zq.forEach((z, i) => {
        queries++;
        for (const mode of MATCHES) {
          const top = ranked(mode, z, 3).map((h) => ids[h.j]!);
          const r = recall.get(mode)!;
          if (top[0] === t.entry.id) r.r1++;
          else if (mode === cli.match) misses.push(`  "${t.entry.heldOutDescriptions[i]}" (${t.entry.id}) → ${top.join(', ')}`);
          if (top.includes(t.entry.id)) r.r3++;
        }
      });
    }
    // The reference without any training: plain TF-IDF cosine between the paraphrase and each adapter's
    // captions (lexical channel alone, fitted on the same captions). What word and stem overlap can do.
    const lexConfig = { ...DEFAULT_LEXICAL_CONFIG, buckets: cli.lexicalBuckets > 0 ? cli.lexicalBuckets : DEFAULT_LEXICAL_CONFIG.buckets };
    const idf = fitLexicalIdf(tasks.flatMap((t) => t.captions), lexConfig);
    const lexAdapters = tasks.map((t) => meanUnitVector(t.captions.map((c) => lexicalFeatures(c, lexConfig, idf))));
    const lexical = { r1: 0, r3: 0 };
    for (const t of tasks) {
      for (const q of t.entry.heldOutDescriptions) {
        const zq = lexicalFeatures(q, lexConfig, idf);
        const top = ids.map((id, j) => ({ id, s: dot(zq, lexAdapters[j]!) })).sort((a, b) => b.s - a.s).slice(0, 3).map((h) => h.id);
        if (top[0] === t.entry.id) lexical.r1++;
        if (top.includes(t.entry.id)) lexical.r3++;
      }
    }
    const r1 = recall.get(cli.match)!.r1;
    const r3 = recall.get(cli.match)!.r3;

    // auto vs oracle on the eval split's single-task prompts.
    const search = async (query: string, k: number): Promise<RetrievedAdapter[]> => {
      const [z] = await retriever.embedTexts([query]);
      return ranked(cli.match, z!, k).map((h) => ({ id: ids[h.j]!, score: h.score }));
    };
    const options = { maxNewTokens: manifest.recipe.evaluation.maxNewTokens, batchSize: manifest.recipe.evaluation.batchSize, samplesKept: 0 };
    const rows: string[] = [];
    let oracleCorrect = 0;
    let autoCorrect = 0;
    let autoTop1 = 0;
    let total = 0;
    let topWeight = 0;
    for (const t of tasks) {
      const examples = t.split.eval.slice(0, cli.prompts);
      const oracle = await taskAccuracy(model, tokenizer, t.task, examples, { ...options, lora: adapters.get(t.entry.id)! });
      let correct = 0;
      let top1 = 0;
      for (const example of examples) {
        const selection = await routeAuto(t.task.prompt(example.input), search, { k: cli.k, temperature: cli.temperature });
        if (selection.adapters[0]!.id === t.entry.id) top1++;
        topWeight += selection.adapters[0]!.weight;
        const lora = combineAdapters(selection.adapters.map((a) => ({ weights: adapters.get(a.id)!, weight: a.weight })), 'cat');
        const score = await taskAccuracy(model, tokenizer, t.task, [example], { ...options, lora });
        correct += score.correct;
      }
      oracleCorrect += oracle.correct;
      autoCorrect += correct;
      autoTop1 += top1;
      total += examples.length;
      rows.push(`${t.entry.id.padEnd(18)} ${String(examples.length).padStart(7)} ${pct(oracle.accuracy).padStart(8)} ${pct(correct / examples.length).padStart(8)} ${pct(top1 / examples.length).padStart(10)}`);
    }

    const recall1 = r1 / queries;
    const recall3 = r3 / queries;
    const oracleAcc = oracleCorrect / total;
    const autoAcc = autoCorrect / total;
    const gap = (oracleAcc - autoAcc) * 100;
    console.log(`\ntext features: ${cli.lexicalBuckets > 0 ? `base pooled states + lexical channel (${cli.lexicalBuckets} buckets, word 1–${DEFAULT_LEXICAL_CONFIG.maxWordNgram}-grams, char ${DEFAULT_LEXICAL_CONFIG.minCharNgram}–${DEFAULT_LEXICAL_CONFIG.maxCharNgram}-grams)` : 'base pooled states only'}`);
    console.log(`retriever ${artifact.manifest.space}: ${tasks.length} adapters, ${tasks.reduce((s, t) => s + t.captions.length, 0)} captions, ${cli.steps} steps, final loss ${artifact.manifest.training.finalLoss.toFixed(3)}, ${trainSeconds.toFixed(0)} s`);
    console.log(`\ntext → adapter on ${queries} held-out paraphrases`);
    for (const mode of MATCHES) console.log(`  match ${mode.padEnd(6)}: recall@1 ${(recall.get(mode)!.r1 / queries).toFixed(3)}, recall@3 ${(recall.get(mode)!.r3 / queries).toFixed(3)}`);
    console.log(`  no training, TF-IDF of the captions alone: recall@1 ${(lexical.r1 / queries).toFixed(3)}, recall@3 ${(lexical.r3 / queries).toFixed(3)}`);
    console.log(`  with --match ${cli.match}:`);
    console.log(`  recall@1 ${recall1.toFixed(3)} (goal ≥ 0.9: ${recall1 >= 0.9 ? 'met' : 'NOT met'})`);
    console.log(`  recall@3 ${recall3.toFixed(3)} (goal ≥ 0.98: ${recall3 >= 0.98 ? 'met' : 'NOT met'})`);
    if (misses.length > 0) console.log(`  top-1 misses:\n${misses.join('\n')}`);
    console.log(`\nauto routing (k=${cli.k}, T=${cli.temperature}, cat, match ${cli.match}) vs the oracle adapter, ${cli.prompts} eval-split prompts per task`);
    console.log(`task               prompts   oracle     auto  auto top1`);
    for (const r of rows) console.log(r);
    console.log(`${'all'.padEnd(18)} ${String(total).padStart(7)} ${pct(oracleAcc).padStart(8)} ${pct(autoAcc).padStart(8)} ${pct(autoTop1 / total).padStart(10)}`);
    console.log(`  mean weight of the top adapter ${(topWeight / total).toFixed(3)}`);
    console.log(`  auto is ${gap.toFixed(1)} points below the oracle (goal ≤ 5: ${gap <= 5 ? 'met' : 'NOT met'})`);
    console.log(`\n${new Date().toISOString()}, ${os.cpus().length} cores, load average at start ${load}, wall ${((performance.now() - started) / 1000).toFixed(0)} s`);
    await retriever.dispose();
  } finally {
    await model.dispose();
    await text.dispose();
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
