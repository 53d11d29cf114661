/**
 * `npm run eval:routing`: learned routing on the evaluation world. For single-task prompts and for
 * composite prompts chaining 2–3 tasks ("1. … 2. …"), the exact-match accuracy of the base, the
 * oracle adapter (each task's own), MeteoRA, FlyLoRA, X-Cross and a uniform mixture of the
 * experts (cat, weights 1/n), plus the best single adapter on composites. Routers are trained
 * in-process with peft-core's trainRouter, the code the `train-router` job runs.
 *
 * Usage: npm run eval:routing -- [--world DIR] [--tasks a,b,c] [--examples N] [--composites N]
 *          [--meteora-steps N] [--flylora-steps N] [--xcross-steps N] [--only meteora,flylora,...]
 * Loads .data/world/full (building it with `npm run eval:world` when absent).
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  combineAdapters,
  encodePrompt,
  generateSplit,
  getWorldTask,
  LlamaModel,
  loadCheckpoint,
  readPeftAdapterDir,
  RoutedModel,
  Rng,
  sampleComposite,
  MAX_COMPOSITE_PARTS,
  scoreComposite,
  trainRouter,
  worldRouterData,
  routerLineBreaks,
  ROUTING_EXPERT_TASKS,
  type CompositeExample,
  type LoraWeights,
  type RouterKind,
  type Tokenizer,
  type WorldTask,
} from '@palette/peft-core';
import { loadTokenizerDir } from '@palette/peft-core/cli/commands';
import { readManifest } from '../world/world-manifest';


interface Options {
  worldDir: string;
  tasks: string[];
  examples: number;
  composites: number;
  steps: Record<RouterKind, number>;
  only: Set<string> | undefined;
  /** MeteoRA experts per token. */
  topK: number;
  /** MeteoRA gates see the prefix-token feature. */
  prefixGate: boolean;
  /** What the prefix feature holds: the sequence so far, or the question line an answer line answers. */
  prefixScope: 'sequence' | 'line';
  /** Labelled composite rows in MeteoRA's gate data. */
  compositeTrain: number;
  /** MeteoRA gets the list-format expert (the base: a zero LoRA) beside the task experts. */
  formatExpert: boolean;
  /** Score base, oracle and uniform mixture (off: routers only, for quick iterations). */
  baselines: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    worldDir: path.resolve('.data/world/full'),
    // The world trains these on list rows (FULL_WORLD_RECIPE.lora.listRowsByTask); why these four: recipe.ts.
    tasks: [...ROUTING_EXPERT_TASKS],
    examples: 50,
    composites: 60,
    steps: { meteora: 200, flylora: 250, xcross: 100 },
    only: undefined,
    // Top-2: over list-trained experts the second expert's small weight softens the other lines' K/V
    // (composite parts 48.0 % against 37.3 % top-1, single tasks 100 % either way; README.md).
    topK: 2,
    prefixGate: true,
    // Line scope and composite gate rows: with list-trained experts (lora.listRowsByTask) MeteoRA scores
    // 37.3 % of composite parts with them against 7.3 % with the sequence scope and none (README.md).
    prefixScope: 'line',
    // Off by default: measured on 4 tasks × 20 examples (2026-11-24, load 12–17), the list-format
    // expert scored 0 % of composite parts and cost single-task accuracy (93.8 % vs 95.0 %); README.md.
    formatExpert: false,
    compositeTrain: 400,
    baselines: true,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    const int = (): number => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got '${value}'`);
      return n;
    };
    if (flag === '--world') o.worldDir = path.resolve(value);
    else if (flag === '--tasks') o.tasks = value.split(',');
    else if (flag === '--examples') o.examples = int();
    else if (flag === '--composites') o.composites = int();
    else if (flag === '--meteora-steps') o.steps.meteora = int();
    else if (flag === '--flylora-steps') o.steps.flylora = int();
    else if (flag === '--xcross-steps') o.steps.xcross = int();
    else if (flag === '--top-k') o.topK = int();
    else if (flag === '--prefix-gate') o.prefixGate = value === 'on' ? true : value === 'off' ? false : (() => { throw new Error(`--prefix-gate must be on or off, got '${value}'`); })();
    else if (flag === '--prefix-scope') o.prefixScope = value === 'line' || value === 'sequence' ? value : (() => { throw new Error(`--prefix-scope must be sequence or line, got '${value}'`); })();
    else if (flag === '--composite-train') o.compositeTrain = value === '0' ? 0 : int();
    else if (flag === '--format-expert') o.formatExpert = value !== 'off';
    else if (flag === '--baselines') o.baselines = value !== 'off';
    else if (flag === '--only') o.only = new Set(value.split(','));
    else throw new Error(`unknown flag ${flag}`);
  }
  if (o.tasks.length < 2) throw new Error('--tasks needs at least 2 tasks');
  return o;
}

/** Something that generates greedily for a batch of prompts (a LlamaModel with a LoRA, or a RoutedModel). */
type Generator = (prompts: number[][], maxNewTokens: number, stop: (generated: readonly number[]) => boolean) => Promise<number[][]>;

interface Scores {
  /** Per task exact-match accuracy on single prompts. */
  readonly single: Map<string, number>;
  /** Fraction of composite sub-answers correct, and of composites fully correct. */
  readonly compositeParts: number;
  readonly compositeAll: number;
  /** Fraction of sub-answers correct at each line position (line 1, 2, 3). */
  readonly partsByLine: readonly number[];
}

async function main(): Promise<void> {
  const started = performance.now();
  const o = parseArgs(process.argv.slice(2));
  const log = (line: string): void => console.log(line);
  let manifest = await readManifest(o.worldDir);
  if (manifest === undefined) {
    log(`no world in ${o.worldDir}: building it with npm run eval:world (≈ 20 min on 2 cores)`);
    const built = spawnSync('npm', ['run', 'eval:world'], { stdio: 'inherit' });
    if (built.status !== 0) throw new Error('npm run eval:world failed');
    manifest = await readManifest(o.worldDir);
    if (manifest === undefined) throw new Error(`still no world manifest in ${o.worldDir}`);
  }
  const load = os.loadavg().map((v) => v.toFixed(2)).join(' ');
  log(`world ${o.worldDir} (built ${manifest.machine.builtAt}); ${os.cpus().length} cores, load ${load} at start`);
  const baseDir = path.join(o.worldDir, manifest.base.dir);
  const checkpoint = await loadCheckpoint(baseDir);
  const tokenizer = await loadTokenizerDir(baseDir);
  const tasks = o.tasks.map((id) => getWorldTask(id));
  const experts: { ref: string; weights: LoraWeights }[] = [];
  for (const task of tasks) {
    const entry = manifest.tasks.find((t) => t.id === task.id);
    if (entry === undefined) throw new Error(`the world has no adapter for ${task.id}`);
    experts.push({ ref: `${task.id}@v1`, weights: (await readPeftAdapterDir(path.join(o.worldDir, entry.adapterDir), checkpoint.config)).weights });
  }
  const { recipe } = manifest;
  // Held-out questions: the world's eval split (never trained on by the adapters nor the routers).
  const singles = tasks.map((task) => generateSplit(task, { seed: recipe.evaluation.splitSeed, train: 0, eval: recipe.evaluation.examples }).eval.slice(0, o.examples));
  const rng = new Rng(2024);
  const composites = Array.from({ length: o.composites }, (_, i) => sampleComposite(rng, tasks, 2 + (i % 2)));
  log(`tasks: ${tasks.map((t) => t.id).join(', ')}; ${o.examples} held-out examples per task (of ${recipe.evaluation.examples}: subsampled), ${o.composites} composite prompts (2–3 parts)`);
  log(`MeteoRA: ${o.steps.meteora} steps, top-${o.topK}, prefix gate ${o.prefixGate ? `on (${o.prefixScope} scope)` : 'off'}, ${o.compositeTrain} composite rows in the gate data${o.formatExpert ? ', list-format expert' : ''}`);

  const base = LlamaModel.create(checkpoint);
  const results = new Map<string, Scores>();
  const timings = new Map<string, number>();
  const evaluate = async (name: string, gen: Generator): Promise<void> => {
    const t0 = performance.now();
    results.set(name, await score(gen, tokenizer, tasks, singles, composites));
    timings.set(name, (timings.get(name) ?? 0) + (performance.now() - t0) / 1000);
    const r = results.get(name)!;
    log(`  ${name.padEnd(22)} single ${pct(mean([...r.single.values()]))}  composite parts ${pct(r.compositeParts)} (by line ${r.partsByLine.map(pct).join(' / ')})  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  };
  const llamaGen = (lora: LoraWeights | undefined): Generator => async (prompts, maxNewTokens, stop) =>
    (await base.generate(prompts, { maxNewTokens, temperature: 0, stopTokenIds: eos(tokenizer), shouldStop: (_r, g) => stop(g), ...(lora ? { lora } : {}) })).map((r) => r.tokens);

  if (o.baselines) await evaluate('base', llamaGen(undefined));
  // The list-format expert is the base itself (a zero LoRA on the experts' modules): the world's
  // base learned numbered copy lists from its corpus ("composite-copy" documents) and writes
  // "1. … 2. …" on composite prompts, which no task expert does. As a single adapter it scores
  // what the base scores, so the "best single adapter" below includes the base's row.
  const formatExpert = {
    ref: 'list-format@v1',
    weights: { modules: new Map([...experts[0]!.weights.modules].map(([p, m]) => [p, { ...m, B: { ...m.B, data: new Float32Array(m.B.data.length) } }])) } as LoraWeights,
  };
  // Oracle: each single prompt with its own task's adapter; on composites, each expert alone (the best is reported).
  const oracleSingle = new Map<string, number>();
  const baseScores = results.get('base');
  let bestSingleComposite = { name: o.formatExpert ? 'base (= list-format expert)' : 'base', parts: baseScores?.compositeParts ?? 0, all: baseScores?.compositeAll ?? 0 };
  for (const [i, expert] of o.baselines ? experts.entries() : []) {
    const t0 = performance.now();
    const s = await score(llamaGen(expert.weights), tokenizer, tasks, singles, composites);
    oracleSingle.set(tasks[i]!.id, s.single.get(tasks[i]!.id)!);
    if (s.compositeParts > bestSingleComposite.parts) bestSingleComposite = { name: expert.ref, parts: s.compositeParts, all: s.compositeAll };
    log(`  adapter ${expert.ref.padEnd(22)} own task ${pct(s.single.get(tasks[i]!.id)!)}  composite parts ${pct(s.compositeParts)}  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  // The composites' ceiling for routing between these experts: every answer line generated by its own
  // task's adapter (the "k. " heads written for it), i.e. a gate that is always right per line.
  const segmentOracle = o.baselines ? await segmentOracleScores(base, tokenizer, composites, new Map(tasks.map((t, i) => [t.id, experts[i]!.weights]))) : undefined;
  if (segmentOracle) log(`  oracle per answer line  composite parts ${pct(segmentOracle.parts)}`);
  const uniform = combineAdapters(experts.map((e) => ({ weights: e.weights, weight: 1 / experts.length })), 'cat');
  if (o.baselines) await evaluate('uniform mixture (cat)', llamaGen(uniform));

  const trainTimes = new Map<string, number>();
  for (const strategy of ['meteora', 'flylora', 'xcross'] as const) {
    if (o.only !== undefined && !o.only.has(strategy)) continue;
    const t0 = performance.now();
    const withFormat = strategy === 'meteora' && o.formatExpert;
    const routed = withFormat ? [...experts, formatExpert] : experts;
    const data = worldRouterData(tokenizer, tasks, {
      formatExpert: withFormat,
      examplesPerTask: strategy === 'flylora' ? 2000 : 400,
      splitSeed: recipe.evaluation.splitSeed,
      heldOut: recipe.evaluation.examples,
      compositeExamples: strategy === 'meteora' ? o.compositeTrain : 0,
      seed: 7,
      ...(o.prefixScope === 'line' ? { lineBreaks: routerLineBreaks(tokenizer, checkpoint.config.vocabSize) } : {}),
    });
    const hyper = {
      meteora: { steps: o.steps.meteora, lr: 0.02, batchSize: 16, seed: 1, warmupSteps: Math.min(10, o.steps.meteora), topK: o.topK, prefixGate: o.prefixGate, prefixScope: o.prefixScope, ...(o.formatExpert ? { ambiguousExpert: experts.length } : {}) },
      flylora: { steps: o.steps.flylora, lr: 0.005, batchSize: 16, seed: 1, warmupSteps: Math.min(20, o.steps.flylora), flyRank: 32, flyTopK: 8, flyAlpha: 64 },
      xcross: { steps: o.steps.xcross, lr: 3e-4, batchSize: 8, seed: 1, warmupSteps: Math.min(10, o.steps.xcross) },
    }[strategy];
    let lastLogged = 0;
    const result = await trainRouter({
      strategy,
      config: checkpoint.config,
      weights: checkpoint.weights,
      tokenizer,
      baseModel: 'world-base',
      experts: routed,
      data,
      hyperparameters: hyper,
      onProgress: (e) => {
        if (e.step - lastLogged >= Math.max(1, Math.floor(e.totalSteps / 5)) || e.step === e.totalSteps) {
          lastLogged = e.step;
          log(`    ${strategy} ${e.phase} step ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(3)}`);
        }
      },
    });
    const trainSeconds = (performance.now() - t0) / 1000;
    trainTimes.set(strategy, trainSeconds);
    log(`  trained ${strategy} in ${trainSeconds.toFixed(0)} s (${result.steps} steps${result.gateAccuracy !== undefined ? `, held-out gate accuracy ${pct(result.gateAccuracy)} (per layer ${result.gateLayerAccuracy!.map(pct).join(' ')})` : ''})`);
    const model = RoutedModel.create(checkpoint, result.artifact!, strategy === 'flylora' ? [] : routed.map((e) => e.weights));
    await evaluate(strategy, async (prompts, maxNewTokens, stop) =>
      (await model.generate(prompts, { maxNewTokens, temperature: 0, stopTokenIds: eos(tokenizer), shouldStop: (_r, g) => stop(g) })).map((r) => r.tokens),
    );
    await model.dispose();
  }
  await base.dispose();

  // The table.
  const oracleMean = mean([...oracleSingle.values()]);
  log('');
  log(`method                 ${tasks.map((t) => t.id.slice(0, 10).padStart(11)).join('')}  single   composite (parts / all)`);
  const row = (name: string, single: number[], parts: number | undefined, all: number | undefined): void =>
    log(`${name.padEnd(23)}${single.map((v) => pct(v).padStart(11)).join('')}  ${pct(mean(single)).padStart(6)}   ${parts === undefined ? '     —' : `${pct(parts)} / ${pct(all!)}`}`);
  const named = (n: string): Scores | undefined => results.get(n);
  if (o.baselines) {
    row('base', tasks.map((t) => named('base')!.single.get(t.id)!), named('base')!.compositeParts, named('base')!.compositeAll);
    row('oracle adapter', tasks.map((t) => oracleSingle.get(t.id)!), segmentOracle?.parts, segmentOracle?.all);
    row(`best single adapter`, tasks.map(() => Number.NaN), bestSingleComposite.parts, bestSingleComposite.all);
  }
  for (const n of ['uniform mixture (cat)', 'meteora', 'flylora', 'xcross']) {
    const r = named(n);
    if (r) row(n, tasks.map((t) => r.single.get(t.id)!), r.compositeParts, r.compositeAll);
  }
  log(`(best single adapter on composites: ${bestSingleComposite.name}; the oracle's composite column: each answer line generated by its own task's adapter)`);
  const meteora = named('meteora');
  if (meteora && o.baselines) {
    const gap = (oracleMean - mean([...meteora.single.values()])) * 100;
    const ratio = bestSingleComposite.parts > 0 ? meteora.compositeParts / bestSingleComposite.parts : meteora.compositeParts > 0 ? Infinity : 0;
    log(`goals: MeteoRA within 5 points of the oracle on single tasks: ${gap.toFixed(1)} points below → ${gap <= 5 ? 'met' : 'NOT met'}; ` +
      `composite ≥ 2× the best single adapter: ${ratio.toFixed(2)}× → ${ratio >= 2 ? 'met' : 'NOT met'}`);
  }
  log(`router training: ${[...trainTimes].map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}`);
  log(`wall time ${((performance.now() - started) / 1000).toFixed(0)} s; load ${os.loadavg().map((v) => v.toFixed(2)).join(' ')} at the end; ${new Date().toISOString()}`);
}

async function score(gen: Generator, tokenizer: Tokenizer, tasks: readonly WorldTask[], singles: readonly (readonly { input: string; answer: string }[])[], composites: readonly CompositeExample[]): Promise<Scores> {
  const single = new Map<string, number>();
  for (const [i, task] of tasks.entries()) {
    const examples = singles[i]!;
    // Single answers end at EOS or a newline (the evaluate job's rule).
    const outputs = await gen(examples.map((e) => encodePrompt(tokenizer, task.prompt(e.input))), 24, (g) => tokenizer.decode(g, { skipSpecialTokens: true }).includes('\n'));
    const correct = outputs.filter((out, k) => task.score(tokenizer.decode(out, { skipSpecialTokens: true }).split('\n')[0]!, examples[k]!.answer)).length;
    single.set(task.id, correct / examples.length);
  }
  // Composites: up to as many lines as parts (a further newline ends the answer).
  const outputs = await gen(composites.map((c) => encodePrompt(tokenizer, c.prompt)), 64, (g) => tokenizer.decode(g, { skipSpecialTokens: true }).split('\n').length > 3);
  if (process.env.EVAL_ROUTING_SAMPLES) console.log(outputs.slice(0, Number(process.env.EVAL_ROUTING_SAMPLES) || 3).map((out, k) => `    ${JSON.stringify(composites[k]!.prompt)} → ${JSON.stringify(tokenizer.decode(out, { skipSpecialTokens: true }))} (want ${JSON.stringify(composites[k]!.answer)})`).join('\n'));
  const t = tallyComposites(outputs.map((out) => tokenizer.decode(out, { skipSpecialTokens: true })), composites);
  return { single, compositeParts: t.parts, compositeAll: t.all, partsByLine: t.byLine };
}

/** Scores answers to composites: the share of sub-answers right, of composites all right, and per line position. */
function tallyComposites(answers: readonly string[], composites: readonly CompositeExample[]): { parts: number; all: number; byLine: number[] } {
  let parts = 0;
  let correct = 0;
  let all = 0;
  const byLine = Array.from({ length: MAX_COMPOSITE_PARTS }, () => ({ correct: 0, total: 0 }));
  composites.forEach((c, i) => {
    const s = scoreComposite(answers[i]!, c);
    parts += s.perPart.length;
    correct += s.correct;
    if (s.allCorrect) all++;
    s.perPart.forEach((ok, line) => {
      byLine[line]!.total++;
      if (ok) byLine[line]!.correct++;
    });
  });
  return { parts: correct / parts, all: all / composites.length, byLine: byLine.map((l) => (l.total > 0 ? l.correct / l.total : 0)) };
}

/**
 * Composites answered line by line, line k by part k's adapter from the text so far plus its
 * "k. " head: what a per-line gate that never errs could reach with these experts.
 */
async function segmentOracleScores(base: LlamaModel, tokenizer: Tokenizer, composites: readonly CompositeExample[], adapterOf: ReadonlyMap<string, LoraWeights>): Promise<{ parts: number; all: number }> {
  const texts = composites.map((c) => c.prompt);
  const answers = composites.map(() => '');
  const longest = Math.max(...composites.map((c) => c.parts.length));
  for (let k = 0; k < longest; k++) {
    const head = k === 0 ? ' 1. ' : `\n${k + 1}. `;
    for (const [taskId, lora] of adapterOf) {
      const rows = composites.flatMap((c, i) => (c.parts[k]?.taskId === taskId ? [i] : []));
      if (rows.length === 0) continue;
      const out = await base.generate(rows.map((i) => encodePrompt(tokenizer, texts[i]! + head)), {
        maxNewTokens: 24,
        temperature: 0,
        stopTokenIds: eos(tokenizer),
        shouldStop: (_r, g) => tokenizer.decode(g, { skipSpecialTokens: true }).includes('\n'),
        lora,
      });
      out.forEach((r, j) => {
        const line = head + tokenizer.decode(r.tokens, { skipSpecialTokens: true }).split('\n')[0]!;
        texts[rows[j]!] += line;
        answers[rows[j]!] += line;
      });
    }
  }
  const t = tallyComposites(answers, composites);
  return { parts: t.parts, all: t.all };
}

function eos(tokenizer: Tokenizer): number[] {
  return tokenizer.eosTokenId !== undefined ? [tokenizer.eosTokenId] : [];
}

function mean(values: readonly number[]): number {
  const finite = values.filter((v) => Number.isFinite(v));
  return finite.length === 0 ? Number.NaN : finite.reduce((a, b) => a + b, 0) / finite.length;
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '—';
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : e);
  process.exit(1);
});
