/**
 * One entry point that trains any of the three learned routers over registered experts and
 * returns its artifact: what the trainer-worker's `train-router` job runs and what
 * `npm run eval:routing` runs in-process (so the evaluation measures the job's code).
 *
 * Data: per expert i, examples of expert i's task (`tasks[i]`); optionally composite rows whose
 * tokens carry per-line task labels (MeteoRA only: they teach the gate to switch mid-sequence).
 * - MeteoRA: gates over the frozen experts, gate loss on the union, labelled by task
 *   (a tenth of each task's examples, at most 32, is held out for the gate accuracy metric).
 * - FlyLoRA: one FlyLoRA adapter per task on that task's examples (each with its own random
 *   sparse A, seed + i), merged (mergeFlyLoraAdapters: block per task); the experts' own weights
 *   are not used, FlyLoRA replaces them.
 * - X-Cross: fusion over the frozen experts on the union of the tasks' examples.
 */
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { LoraWeights } from '../lora/adapter';
import { loraTargetsOf } from '../model/lora-inputs';
import { lineBreakTokenIds, PrefixState } from '../model/meteora-prefix';
import type { HostTensor } from '../tensor/host-tensor';
import { tokenizeExample, type TextTokenizer, type TrainingExample } from '../train/data';
import { Rng } from '../util/rng';
import { sampleComposite, type CompositeExample } from '../world/composite';
import { CORPUS_ANSWER_SEPARATOR, CORPUS_MARKERS } from '../world/corpus';
import { compositeRecord, taskRecord } from '../world/dataset';
import { ANSWER_PREFIX } from '../world/task';
import { generateSplit } from '../world/split';
import type { WorldTask } from '../world/task';
import { createFlyLora, flyLoraArtifact, mergeFlyLoraAdapters, trainFlyLora, type FlyLoraAdapter } from './flylora';
import { labelTaskExamples, maskAmbiguousGateLabels, trainMeteoraGates, type TaskLabelledSequence } from './meteora-train';
import type { RouterProgressEvent } from './optimize';
import type { RouterArtifact, RouterKind } from './router-artifact';
import { trainXCrossFusion } from './xcross-train';

export interface RouterTrainingHyperparameters {
  readonly steps: number;
  readonly lr: number;
  readonly warmupSteps?: number;
  readonly batchSize: number;
  readonly seed: number;
  /** MeteoRA. */
  readonly topK?: number;
  readonly temperature?: number;
  readonly auxLossWeight?: number;
  /** MeteoRA: gates also see which tokens occurred so far (meteora-wiring's prefix feature). */
  readonly prefixGate?: boolean;
  /** MeteoRA: the prefix feature's scope (meteora-prefix.ts; default sequence). */
  readonly prefixScope?: 'sequence' | 'line';
  /** MeteoRA: the expert that owns positions whose prefix several tasks share (default none: no gate target there). */
  readonly ambiguousExpert?: number;
  /** FlyLoRA (defaults 32 / 8 / 64, the reference setting). */
  readonly flyRank?: number;
  readonly flyTopK?: number;
  readonly flyAlpha?: number;
  /** X-Cross. */
  readonly beta?: number;
  readonly gamma?: number;
}

export interface RouterTrainingData {
  /** Examples of expert i's task at index i. */
  readonly tasks: readonly (readonly TrainingExample[])[];
  /** Composite rows with per-token task labels (MeteoRA). */
  readonly composite?: readonly TaskLabelledSequence[];
}

export interface TrainRouterOptions {
  readonly strategy: RouterKind;
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly tokenizer: TextTokenizer;
  /** Recorded in the manifest. */
  readonly baseModel: string;
  /** "name@version" and weights of each expert, in task order. */
  readonly experts: readonly { readonly ref: string; readonly weights: LoraWeights }[];
  readonly data: RouterTrainingData;
  readonly hyperparameters: RouterTrainingHyperparameters;
  readonly signal?: AbortSignal;
  /** `phase` names the FlyLoRA source task being trained ("task 2/3"); steps count over the whole job. */
  readonly onProgress?: (event: RouterProgressEvent & { readonly phase: string }) => void;
  readonly device?: string;
  readonly intraOpThreads?: number;
}

export interface TrainRouterResult {
  readonly status: 'completed' | 'aborted';
  readonly artifact: RouterArtifact | undefined;
  readonly steps: number;
  readonly finalLoss?: number;
  readonly trainExamples: number;
  readonly gateAccuracy?: number;
  /** MeteoRA: held-out gate top-1 per decoder layer (layer 0's q/k/v see one token only). */
  readonly gateLayerAccuracy?: readonly number[];
}

/** The line-scope prefix gate's separators: the tokenizer's ids whose text holds a line break. */
export function routerLineBreaks(tokenizer: TextTokenizer, vocabSize: number): Set<number> {
  return lineBreakTokenIds((ids) => tokenizer.decode(ids), vocabSize);
}

/** Steps a run reports in total (FlyLoRA trains one adapter per task). */
export function routerTrainingSteps(strategy: RouterKind, experts: number, steps: number): number {
  return strategy === 'flylora' ? experts * steps : steps;
}

export async function trainRouter(o: TrainRouterOptions): Promise<TrainRouterResult> {
  const n = o.experts.length;
  const h = o.hyperparameters;
  if (n < 2) throw new PeftCoreError('INVALID_ARGUMENT', `a router needs at least 2 experts, got ${n}`);
  if (o.data.tasks.length !== n) throw new PeftCoreError('INVALID_ARGUMENT', `router data has ${o.data.tasks.length} tasks for ${n} experts`);
  o.data.tasks.forEach((t, i) => {
    if (t.length === 0) throw new PeftCoreError('DATASET_INVALID', `expert ${o.experts[i]!.ref} has no training examples`);
  });
  const common = {
    config: o.config,
    weights: o.weights,
    baseModel: o.baseModel,
    batchSize: h.batchSize,
    lr: h.lr,
    ...(h.warmupSteps !== undefined ? { warmupSteps: h.warmupSteps } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.device !== undefined ? { device: o.device } : {}),
    ...(o.intraOpThreads !== undefined ? { intraOpThreads: o.intraOpThreads } : {}),
    padId: o.tokenizer.eosTokenId ?? 0,
  };
  const report = (phase: string, offset: number, total: number) => (e: RouterProgressEvent): void =>
    o.onProgress?.({ ...e, phase, step: offset + e.step, totalSteps: total });
  const trainExamples = o.data.tasks.reduce((a, t) => a + t.length, 0) + (o.data.composite?.length ?? 0);

  if (o.strategy === 'meteora') {
    const train: TaskLabelledSequence[] = [];
    const held: TaskLabelledSequence[] = [];
    o.data.tasks.forEach((examples, i) => {
      const keep = Math.min(32, Math.floor(examples.length / 10));
      const labelled = labelTaskExamples(o.tokenizer, [examples]).map((s) => ({ ...s, taskLabels: s.taskLabels.map(() => i) }));
      train.push(...labelled.slice(0, labelled.length - keep));
      held.push(...labelled.slice(labelled.length - keep));
    });
    // Composite rows: a tenth (at most 32) held out too, so the gate accuracy covers line switches.
    const composite = o.data.composite ?? [];
    const keepComposite = Math.min(32, Math.floor(composite.length / 10));
    train.push(...composite.slice(0, composite.length - keepComposite));
    held.push(...composite.slice(composite.length - keepComposite));
    // Without the prefix feature, positions whose prefix several tasks share carry no task
    // signal: no gate target there. With it, prompt positions see the whole prompt (marker included).
    const masked = h.prefixGate ? [...train, ...held] : maskAmbiguousGateLabels([...train, ...held], h.ambiguousExpert ?? -1);
    const result = await trainMeteoraGates({
      ...common,
      experts: o.experts,
      train: masked.slice(0, train.length),
      ...(held.length > 0 ? { eval: masked.slice(train.length) } : {}),
      steps: h.steps,
      seed: h.seed,
      ...(h.topK !== undefined ? { topK: h.topK } : {}),
      ...(h.temperature !== undefined ? { temperature: h.temperature } : {}),
      ...(h.auxLossWeight !== undefined ? { auxLossWeight: h.auxLossWeight } : {}),
      ...(h.prefixGate !== undefined ? { prefixGate: h.prefixGate } : {}),
      ...(h.prefixScope === 'line' ? { prefixScope: { kind: 'line', lineBreaks: routerLineBreaks(o.tokenizer, o.config.vocabSize) } } : {}),
      onProgress: report('gates', 0, h.steps),
    });
    return {
      status: result.status,
      artifact: result.status === 'completed' ? result.artifact : undefined,
      steps: result.losses.length,
      ...(result.losses.length > 0 ? { finalLoss: result.losses.at(-1)! } : {}),
      trainExamples,
      ...(result.evaluation ? { gateAccuracy: result.evaluation.meanAccuracy, gateLayerAccuracy: result.evaluation.layerAccuracy } : {}),
    };
  }

  const tokenized = o.data.tasks.map((examples) => examples.map((e) => tokenizeExample(o.tokenizer, e)));
  if (o.strategy === 'xcross') {
    const result = await trainXCrossFusion({
      ...common,
      adapters: o.experts,
      train: tokenized.flat(),
      steps: h.steps,
      seed: h.seed,
      ...(h.beta !== undefined ? { beta: h.beta } : {}),
      ...(h.gamma !== undefined ? { gamma: h.gamma } : {}),
      onProgress: report('fusion', 0, h.steps),
    });
    return {
      status: result.status,
      artifact: result.status === 'completed' ? result.artifact : undefined,
      steps: result.losses.length,
      ...(result.losses.length > 0 ? { finalLoss: result.losses.at(-1)! } : {}),
      trainExamples,
    };
  }

  // FlyLoRA: the experts fix the target modules (the same projections they adapt).
  const targetModules = [...new Set(loraTargetsOf(o.config, o.experts.map((e) => e.weights)).paths.map((p) => p.slice(p.lastIndexOf('.') + 1)))];
  const total = routerTrainingSteps('flylora', n, h.steps);
  const adapters: FlyLoraAdapter[] = [];
  let losses: readonly number[] = [];
  for (let i = 0; i < n; i++) {
    const adapter = createFlyLora(o.config, {
      rank: h.flyRank ?? 32,
      topK: h.flyTopK ?? 8,
      alpha: h.flyAlpha ?? 64,
      targetModules: targetModules as never,
      seed: h.seed + 1 + i,
    });
    const result = await trainFlyLora({ ...common, adapter, train: tokenized[i]!, steps: h.steps, seed: h.seed + i, onProgress: report(`task ${i + 1}/${n}`, i * h.steps, total) });
    if (result.status === 'aborted') return { status: 'aborted', artifact: undefined, steps: i * h.steps + result.losses.length, trainExamples };
    adapters.push(result.adapter);
    losses = result.losses;
  }
  const finalLoss = losses.at(-1);
  const artifact = flyLoraArtifact(mergeFlyLoraAdapters(adapters), {
    baseModel: o.baseModel,
    sources: o.experts.map((e) => e.ref),
    metrics: { steps: total, ...(finalLoss !== undefined ? { finalLoss } : {}) },
  });
  return { status: 'completed', artifact, steps: total, ...(finalLoss !== undefined ? { finalLoss } : {}), trainExamples };
}

export interface WorldRouterDataOptions {
  readonly examplesPerTask: number;
  /** Composite rows chaining 2–3 of the tasks, labelled per line (0 = none). */
  readonly compositeExamples?: number;
  /** The split seed of the world's evaluation (its eval inputs are never trained on). */
  readonly splitSeed: number;
  /** Eval examples per task the evaluation holds out (drawn first with splitSeed). */
  readonly heldOut?: number;
  /** Seed of the composite draws. */
  readonly seed?: number;
  /**
   * Adds a list-format expert after the tasks' (expert index tasks.length): its own examples are
   * the base corpus's copy questions (CORPUS_MARKERS, "Q: @ word\nA: word"), and in composites it
   * owns every "k. " line start (labelComposite's `formatExpert`), so a router writes the
   * numbering with it and each answer with its task's expert.
   */
  readonly formatExpert?: boolean;
  /** Labels composites for MeteoRA's line-scope prefix gate (its line-break token ids; labelComposite). */
  readonly lineBreaks?: ReadonlySet<number>;
}

/** Router training data from evaluation-world tasks (task i = expert i). */
export function worldRouterData(tokenizer: TextTokenizer, tasks: readonly WorldTask[], o: WorldRouterDataOptions): RouterTrainingData {
  const perTask = tasks.map((task) => {
    const heldOut = Math.min(o.heldOut ?? 100, Math.max(0, task.inputSpace - o.examplesPerTask));
    const split = generateSplit(task, { seed: o.splitSeed, train: Math.min(o.examplesPerTask, task.inputSpace - heldOut), eval: heldOut });
    return split.train.map((e) => taskRecord(task, e) as TrainingExample);
  });
  if (o.formatExpert) perTask.push(copyQuestions(new Rng((o.seed ?? 0) ^ 0xc09e), o.examplesPerTask));
  const count = o.compositeExamples ?? 0;
  if (count === 0) return { tasks: perTask };
  const rng = new Rng((o.seed ?? 0) ^ 0xc0ffee);
  const index = new Map(tasks.map((t, i) => [t.id, i]));
  const format = o.formatExpert ? tasks.length : undefined;
  const composite = Array.from({ length: count }, () => labelComposite(tokenizer, sampleComposite(rng, tasks, 2 + rng.int(Math.min(2, tasks.length - 1))), index, { ...(format !== undefined ? { formatExpert: format } : {}), ...(o.lineBreaks ? { lineBreaks: o.lineBreaks } : {}) }));
  return { tasks: perTask, composite };
}

/** Copy questions in the base corpus's format and markers (the list-format expert's own task). */
function copyQuestions(rng: Rng, count: number): TrainingExample[] {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  return Array.from({ length: count }, () => {
    const word = rng.uniform() < 0.6;
    const input = word
      ? Array.from({ length: 2 + rng.int(11) }, () => letters[rng.int(26)]!).join('')
      : rng.uniform() < 0.5 ? String(rng.int(1000)) : `${rng.int(100)} ${rng.int(100)}`;
    return { prompt: `Q: ${word ? CORPUS_MARKERS.copyWord : CORPUS_MARKERS.copyNumbers} ${input}${CORPUS_ANSWER_SEPARATOR}`, completion: ` ${input}` };
  });
}

/**
 * A composite example as one labelled row: every character of question line k and of answer
 * line k (with its "k. " number) belongs to task k; "Q: " and "A:" to the first task. Labels are
 * per token through the character each token starts at (tokens are found by decoding prefixes).
 * With `lineBreaks` (the line-scope prefix gate) the gate at position t is instead trained on the
 * task of the question line its prefix feature shows (meteora-prefix.ts), so labels and feature
 * never disagree: a prompt position's own line, an answer position the line it writes.
 */
export function labelComposite(
  tokenizer: TextTokenizer,
  composite: CompositeExample,
  taskIndex: ReadonlyMap<string, number>,
  o: { readonly formatExpert?: number; readonly lineBreaks?: ReadonlySet<number> } = {},
): TaskLabelledSequence {
  if (o.lineBreaks !== undefined) return labelCompositeByLine(tokenizer, composite, taskIndex, o.lineBreaks);
  const formatExpert = o.formatExpert;
  const record = compositeRecord(composite) as { prompt: string; completion: string };
  const { ids, lossMask } = tokenizeExample(tokenizer, record);
  const text = record.prompt + record.completion;
  const charTask = new Array<number>(text.length).fill(taskIndex.get(composite.parts[0]!.taskId)!);
  // Line k of the prompt is question k; after "A:", line k is answer k.
  const answerStart = record.prompt.length;
  // The prompt's last line ("A:") leads into answer 1: the first task's.
  const assign = (from: number, to: number): void => {
    let line = 0;
    for (let c = from; c < to; c++) {
      charTask[c] = taskIndex.get(composite.parts[line < composite.parts.length ? line : 0]!.taskId)!;
      if (text[c] === '\n') line++;
    }
  };
  assign(0, answerStart);
  assign(answerStart, text.length);
  if (formatExpert !== undefined) {
    // The format expert writes what no task expert learned: every "k. " line start, the "A:"
    // line and the space that opens the answer. From each marker on, a line is its task's.
    for (const m of text.matchAll(/(^|\n|: )(\d+\. )/g)) charTask.fill(formatExpert, m.index + m[1]!.length, m.index + m[0].length);
    charTask.fill(formatExpert, record.prompt.lastIndexOf('\n') + 1, answerStart + ANSWER_PREFIX.length);
    charTask.fill(formatExpert, 0, text.indexOf(' ') + 1); // "Q: ", before any marker
  }
  // Map tokens to characters: decode growing prefixes (specials like BOS/EOS decode to nothing).
  const taskLabels: number[] = [];
  let previous = 0;
  for (let t = 0; t < ids.length; t++) {
    const decoded = tokenizer.decode(ids.slice(0, t + 1), { skipSpecialTokens: true }).length;
    const at = Math.min(previous, text.length - 1);
    taskLabels.push(charTask[at]!);
    previous = decoded;
  }
  return { ids, lossMask, taskLabels };
}

function labelCompositeByLine(tokenizer: TextTokenizer, composite: CompositeExample, taskIndex: ReadonlyMap<string, number>, lineBreaks: ReadonlySet<number>): TaskLabelledSequence {
  const { ids, lossMask } = tokenizeExample(tokenizer, compositeRecord(composite) as { prompt: string; completion: string });
  const promptLength = lossMask.indexOf(1);
  const state = new PrefixState({ kind: 'line', lineBreaks });
  const lines = [...state.promptLines(ids.slice(0, promptLength)), ...ids.slice(promptLength).map((t) => state.nextLine(t))];
  const owner = lines.map((line) => taskIndex.get(composite.parts[Math.min(line, composite.parts.length - 1)]!.taskId)!);
  // taskLabels[t + 1] is the gate target at t (collateLabelled's shift).
  return { ids, lossMask, taskLabels: [-1, ...owner.slice(0, -1)] };
}
