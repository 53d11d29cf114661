/**
 * Trans-LoRA transfer (ALGORITHMS.md): move a LoRA from a source base to a target base without its
 * training data. The target base writes candidate prompts from a few seed examples, the
 * discriminator keeps the ones it calls real, the teacher (source base + source LoRA) answers
 * them greedily, and a target LoRA is trained on the (prompt, answer) text pairs with the target's
 * own tokenizer — text-level distillation, so the two bases may have different vocabularies.
 */
import { createHash } from 'node:crypto';
import { PeftCoreError } from '../errors';
import type { PeftAdapter } from '../formats/peft-adapter';
import type { LoraWeights } from '../lora/adapter';
import { LlamaModel } from '../model/llama-model';
import { encodePrompt, type PromptCompletionTrainingExample } from '../train/data';
import { residualAdapterForOriginalBase, toPeftAdapter } from '../train/export';
import type { LoraSpec } from '../train/lora-setup';
import { Trainer, type TrainerOptions } from '../train/trainer';
import { Rng } from '../util/rng';
import { checkAdapterFitsBase, checkSeeds, checkTokenizerFitsModel, type BaseModel, type SizedTokenizer } from './base-model';
import { fewShotSeparator, generateSyntheticPrompts, type SyntheticPromptOptions } from './synthetic-prompts';

export type TransferPhase = 'generate' | 'filter' | 'answer' | 'train' | 'export';

export interface TransferProgressEvent {
  readonly phase: TransferPhase;
  /** Units done in this phase (prompts, or optimizer steps in 'train') of `total`. */
  readonly done: number;
  readonly total: number;
  /** Training loss at this step ('train' only). */
  readonly loss?: number;
}

export interface TransferOptions {
  /** Candidate prompts the target base should produce (before filtering); with `accepted`, the most it may produce. */
  readonly candidates: number;
  /**
   * Generate and filter in rounds until the filter has accepted this many prompts (or `candidates`
   * were written). Unset: exactly `candidates` candidates, then the filter. [inferred] A filter that
   * removes the off-domain majority of a small target's candidates also removes most of the data:
   * on the evaluation world double-letters' student fell from 75 % to 49 % when a sharper filter kept
   * 2,645 of 8,192 (tools/eval-transfer/README.md); a target count keeps the set's size.
   */
  readonly accepted?: number;
  /** Seeds every random choice of the run (few-shot draws, sampling, training). */
  readonly seed: number;
  readonly generation?: Omit<SyntheticPromptOptions, 'signal' | 'onBatch'>;
  /** Token budget of a teacher answer (default 64). Answers that hit it are dropped (cut short). */
  readonly answerMaxNewTokens?: number;
  /** Prompts per teacher / discriminator batch (default 16). */
  readonly batchSize?: number;
  /** Fewer accepted prompts than this is an error (default 1). */
  readonly minAccepted?: number;
  /** The student's training run (mode is always 'lora'; seed defaults to options.seed). */
  readonly training: Omit<TrainerOptions, 'mode' | 'seed' | 'lora'> & { readonly lora: LoraSpec; readonly seed?: number };
  /** Written as the target adapter's base_model_name_or_path. */
  readonly targetBaseName?: string;
  /** Filter threshold on p(real); default the discriminator's own (its artifact's). */
  readonly threshold?: number;
}

/**
 * What the filter phase needs of a discriminator: a verdict and a score per prompt. The companion
 * Discriminator is one; `npm run eval:transfer --oracle-filter` passes one that knows the task, to
 * measure what a perfect filter would give.
 */
export interface PromptJudge {
  readonly threshold: number;
  judge(prompts: readonly string[], options?: { readonly batchSize?: number; readonly threshold?: number }): Promise<{ readonly real: boolean[]; readonly scores: number[] }>;
}

export interface TransferInput {
  readonly sourceBase: BaseModel;
  readonly sourceAdapter: LoraWeights;
  readonly sourceTokenizer: SizedTokenizer;
  readonly targetBase: BaseModel;
  readonly targetTokenizer: SizedTokenizer;
  /** Real task prompts shown to the target base (the paper uses 5). */
  readonly seeds: readonly string[];
  /** Without one, every candidate is kept: the "unfiltered" ablation. */
  readonly discriminator?: PromptJudge;
  /** The registry's reference of the source adapter (e.g. "name@version"), recorded in the lineage. */
  readonly sourceAdapterRef?: string;
  readonly options: TransferOptions;
  readonly onProgress?: (event: TransferProgressEvent) => void;
  readonly signal?: AbortSignal;
}

export interface TransferStats {
  readonly generate: { readonly requested: number; readonly acceptedTarget?: number; readonly generated: number; readonly generations: number; readonly droppedEmpty: number; readonly droppedDuplicate: number; readonly droppedNoEnd: number; readonly truncated: number; readonly promptEnd?: string };
  readonly filter: { readonly filtered: boolean; readonly candidates: number; readonly accepted: number; readonly acceptanceRate: number; readonly threshold?: number; readonly meanScore?: number };
  readonly answer: { readonly prompts: number; readonly answered: number; readonly droppedEmpty: number; readonly droppedTruncated: number };
  readonly train: { readonly examples: number; readonly steps: number; readonly losses: readonly number[] };
}

export interface TransferLineage {
  readonly method: 'trans-lora';
  readonly sourceAdapterRef?: string;
  /** sha256 of the seed prompts (JSON array, in order). */
  readonly seedsHash: string;
  readonly seedCount: number;
  readonly filtered: boolean;
  readonly distillation: 'text';
  readonly sourceBase: BaseSummary;
  readonly targetBase: BaseSummary;
}

export interface BaseSummary {
  readonly family: string;
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly vocabSize: number;
}

export type TransferResult =
  | { readonly status: 'aborted'; readonly phase: TransferPhase }
  | {
      readonly status: 'completed';
      /** The target LoRA as a PEFT adapter (writePeftAdapterDir / writePeftAdapter to store it). */
      readonly adapter: PeftAdapter;
      readonly stats: TransferStats;
      readonly lineage: TransferLineage;
      /** The distillation set, for storing as the transfer's dataset. */
      readonly examples: readonly PromptCompletionTrainingExample[];
    };

export function seedsHash(seeds: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(seeds)).digest('hex');
}

function summary(base: BaseModel): BaseSummary {
  const c = base.config;
  return { family: c.family, hiddenSize: c.hiddenSize, numLayers: c.numLayers, vocabSize: c.vocabSize };
}

/** Refuses inputs that cannot work, before anything is compiled or generated. */
export function validateTransferInput(input: TransferInput): void {
  if (input.options.generation?.separator !== undefined) checkSeeds(input.seeds, input.options.generation.separator, 'transferAdapter');
  else checkSeeds(input.seeds, fewShotSeparator(input.seeds.length > 0 ? input.seeds : ['x']), 'transferAdapter');
  checkTokenizerFitsModel(input.sourceBase.config, input.sourceTokenizer, 'transferAdapter (source)');
  checkTokenizerFitsModel(input.targetBase.config, input.targetTokenizer, 'transferAdapter (target)');
  checkAdapterFitsBase(input.sourceAdapter, input.sourceBase.config, 'transferAdapter (source adapter vs source base)');
  if (!Number.isInteger(input.options.candidates) || input.options.candidates < 1) {
    throw new PeftCoreError('INVALID_ARGUMENT', `transferAdapter: options.candidates must be a positive integer, got ${input.options.candidates}`);
  }
}

/** What the first three phases produce: the student's training set, and their figures. */
export type DistillationSetResult =
  | { readonly status: 'aborted'; readonly phase: TransferPhase }
  | {
      readonly status: 'completed';
      /** (prompt, teacher answer) pairs: the student's training set, and the transfer's stored dataset. */
      readonly examples: PromptCompletionTrainingExample[];
      readonly stats: Omit<TransferStats, 'train'>;
    };

/**
 * Phases generate → filter → answer: the distillation set. Split from the student's training so a
 * job can store this set before training and resume training from a checkpoint without generating
 * again (the same function serves the job and `npm run eval:transfer`).
 */
export async function buildDistillationSet(input: Omit<TransferInput, 'options'> & { readonly options: Omit<TransferOptions, 'training'> & { readonly training?: TransferOptions['training'] } }): Promise<DistillationSetResult> {
  validateTransferInput(input as TransferInput);
  const { options: o, signal, discriminator } = input;
  const emit = (event: TransferProgressEvent): void => input.onProgress?.(event);
  const batchSize = o.batchSize ?? 16;
  const rng = new Rng(o.seed);

  // (a) The TARGET base writes candidates: they come from the distribution the student will serve.
  // (b) The discriminator keeps what it calls real; without one everything is kept. With a target
  // count of accepted prompts the two alternate in rounds.
  const acceptTarget = o.accepted;
  if (acceptTarget !== undefined && !(Number.isInteger(acceptTarget) && acceptTarget >= 1)) throw new PeftCoreError('INVALID_ARGUMENT', `transferAdapter: options.accepted must be a positive integer, got ${acceptTarget}`);
  // The first round writes the target count; later ones what the acceptance so far says is missing
  // (+10 %, at least 256). Unfiltered, every candidate is accepted: exactly the target count, no overshoot.
  const roundSize = (): number => {
    if (acceptTarget === undefined) return o.candidates;
    const missing = acceptTarget - accepted.length;
    if (discriminator === undefined) return missing;
    if (candidates.length === 0) return Math.max(256, acceptTarget);
    return Math.max(256, Math.ceil((1.1 * missing * candidates.length) / Math.max(1, accepted.length)));
  };
  const candidates: string[] = [];
  const accepted: string[] = [];
  const produced = new Set<string>();
  const generated = { generations: 0, droppedEmpty: 0, droppedDuplicate: 0, droppedNoEnd: 0, truncated: 0, promptEnd: undefined as string | undefined };
  let scoreSum = 0;
  const model = LlamaModel.create(input.targetBase);
  try {
    while (candidates.length < o.candidates && (acceptTarget === undefined || accepted.length < acceptTarget)) {
      emit({ phase: 'generate', done: acceptTarget === undefined ? candidates.length : accepted.length, total: acceptTarget ?? o.candidates });
      const synthetic = await generateSyntheticPrompts({
        model,
        tokenizer: input.targetTokenizer,
        seeds: input.seeds,
        n: Math.min(roundSize(), o.candidates - candidates.length),
        rng,
        // Default separator: "\n" for one-line seeds, a blank line for `Q: …\nA:` prompts (fewShotSeparator).
        options: {
          separator: fewShotSeparator(input.seeds),
          ...o.generation,
          exclude: produced,
          ...(signal ? { signal } : {}),
          onBatch: (kept, total) => {
            if (acceptTarget === undefined) emit({ phase: 'generate', done: candidates.length + kept, total: o.candidates });
            else if (total > 0) emit({ phase: 'generate', done: accepted.length, total: acceptTarget });
          },
        },
      });
      if (synthetic.aborted) return { status: 'aborted', phase: 'generate' };
      generated.generations += synthetic.generations;
      generated.droppedEmpty += synthetic.droppedEmpty;
      generated.droppedDuplicate += synthetic.droppedDuplicate;
      generated.droppedNoEnd += synthetic.droppedNoEnd;
      generated.truncated += synthetic.truncated;
      generated.promptEnd ??= synthetic.promptEnd;
      const fresh = synthetic.prompts;
      for (const p of fresh) produced.add(p);
      candidates.push(...fresh);
      if (acceptTarget === undefined) emit({ phase: 'filter', done: 0, total: fresh.length });
      for (let start = 0; start < fresh.length; start += batchSize) {
        if (signal?.aborted) return { status: 'aborted', phase: 'filter' };
        const chunk = fresh.slice(start, start + batchSize);
        if (discriminator === undefined) {
          accepted.push(...chunk);
        } else {
          const { real, scores } = await discriminator.judge(chunk, { batchSize, ...(o.threshold !== undefined ? { threshold: o.threshold } : {}) });
          chunk.forEach((p, i) => {
            scoreSum += scores[i]!;
            if (real[i]) accepted.push(p);
          });
        }
        if (acceptTarget === undefined) emit({ phase: 'filter', done: Math.min(start + batchSize, fresh.length), total: fresh.length });
      }
      // Without a target count one round is the whole request (as before rounds existed); with one,
      // stop when the target base writes nothing new (its repertoire for this prompt start is spent).
      if (acceptTarget === undefined || fresh.length === 0) break;
    }
  } finally {
    await model.dispose();
  }
  const acceptanceRate = candidates.length > 0 ? accepted.length / candidates.length : 0;
  if (acceptTarget !== undefined) {
    // Accepted beyond the target count (the last round's overshoot) is dropped, keeping generation order.
    accepted.splice(acceptTarget);
    emit({ phase: 'filter', done: candidates.length, total: candidates.length });
  }
  const meanScore = discriminator !== undefined && candidates.length > 0 ? scoreSum / candidates.length : undefined;
  const filterStats = {
    filtered: discriminator !== undefined,
    candidates: candidates.length,
    accepted: accepted.length,
    acceptanceRate,
    ...(discriminator !== undefined ? { threshold: o.threshold ?? discriminator.threshold } : {}),
    ...(meanScore !== undefined ? { meanScore } : {}),
  };
  const minAccepted = o.minAccepted ?? 1;
  if (accepted.length < minAccepted) {
    throw new PeftCoreError(
      'INVALID_ARGUMENT',
      `transferAdapter: only ${accepted.length} of ${candidates.length} candidate prompts were accepted (minimum ${minAccepted}); generate more candidates, lower the discriminator threshold, or give better seeds`,
      { ...filterStats },
    );
  }

  // (c) The teacher answers greedily, prompts encoded exactly as its adapter was trained.
  emit({ phase: 'answer', done: 0, total: accepted.length });
  const teacher = LlamaModel.create(input.sourceBase);
  const examples: PromptCompletionTrainingExample[] = [];
  let droppedEmpty = 0;
  let droppedTruncated = 0;
  try {
    const eos = input.sourceTokenizer.eosTokenId as number;
    for (let start = 0; start < accepted.length; start += batchSize) {
      if (signal?.aborted) return { status: 'aborted', phase: 'answer' };
      const chunk = accepted.slice(start, start + batchSize);
      const out = await teacher.generate(chunk.map((p) => encodePrompt(input.sourceTokenizer, p)), {
        maxNewTokens: o.answerMaxNewTokens ?? 64,
        temperature: 0,
        stopTokenIds: [eos],
        padTokenId: eos,
        lora: input.sourceAdapter,
      });
      out.forEach((r, i) => {
        const completion = input.sourceTokenizer.decode(r.tokens, { skipSpecialTokens: true });
        // A cut-short answer would teach the student to stop mid-answer (its EOS is appended in training).
        if (r.finishReason !== 'stop') droppedTruncated++;
        else if (completion.trim().length === 0) droppedEmpty++;
        else examples.push({ prompt: chunk[i]!, completion });
      });
      emit({ phase: 'answer', done: Math.min(start + batchSize, accepted.length), total: accepted.length });
    }
  } finally {
    await teacher.dispose();
  }
  if (examples.length === 0) {
    throw new PeftCoreError('INVALID_ARGUMENT', `transferAdapter: the teacher gave no usable answer to ${accepted.length} prompts (${droppedTruncated} hit answerMaxNewTokens, ${droppedEmpty} empty)`);
  }

  return {
    status: 'completed',
    examples,
    stats: {
      generate: {
        requested: o.candidates,
        ...(acceptTarget !== undefined ? { acceptedTarget: acceptTarget } : {}),
        generated: candidates.length,
        generations: generated.generations,
        droppedEmpty: generated.droppedEmpty,
        droppedDuplicate: generated.droppedDuplicate,
        droppedNoEnd: generated.droppedNoEnd,
        truncated: generated.truncated,
        ...(generated.promptEnd !== undefined ? { promptEnd: generated.promptEnd } : {}),
      },
      filter: filterStats,
      answer: { prompts: accepted.length, answered: examples.length, droppedEmpty, droppedTruncated },
    },
  };
}

/** The student's Trainer options (mode lora; the run's seed unless training.seed is set). */
export function studentTrainerOptions(options: TransferOptions): TrainerOptions {
  const { lora, seed: trainSeed, ...training } = options.training;
  return { ...training, mode: 'lora', lora, seed: trainSeed ?? options.seed };
}

/** The lineage a transferred adapter is registered with. */
export function transferLineage(input: Pick<TransferInput, 'sourceAdapterRef' | 'seeds' | 'discriminator' | 'sourceBase' | 'targetBase'>): TransferLineage {
  return {
    method: 'trans-lora',
    ...(input.sourceAdapterRef !== undefined ? { sourceAdapterRef: input.sourceAdapterRef } : {}),
    seedsHash: seedsHash(input.seeds),
    seedCount: input.seeds.length,
    filtered: input.discriminator !== undefined,
    distillation: 'text',
    sourceBase: summary(input.sourceBase),
    targetBase: summary(input.targetBase),
  };
}

export async function transferAdapter(input: TransferInput): Promise<TransferResult> {
  const built = await buildDistillationSet(input);
  if (built.status === 'aborted') return built;
  const { examples } = built;
  const { options: o, signal } = input;
  const emit = (event: TransferProgressEvent): void => input.onProgress?.(event);
  const lora = o.training.lora;

  // (d) The student: a LoRA on the target base, trained on the text pairs with the target tokenizer.
  const trainerOptions = studentTrainerOptions(o);
  const trainer = await Trainer.create({ config: input.targetBase.config, weights: input.targetBase.weights, tokenizer: input.targetTokenizer, train: examples, options: trainerOptions });
  let weights: LoraWeights;
  let losses: readonly number[];
  let steps: number;
  try {
    emit({ phase: 'train', done: 0, total: trainer.totalSteps });
    const result = await trainer.train({
      ...(signal ? { signal } : {}),
      onProgress: (e) => emit({ phase: 'train', done: e.step, total: e.totalSteps, loss: e.loss }),
    });
    if (result.status !== 'completed') return { status: 'aborted', phase: 'train' };
    losses = [...result.losses];
    steps = result.step;
    weights = trainer.usesResidualBase ? residualAdapterForOriginalBase(trainer.loraWeights(), trainer.initialLora as LoraWeights) : trainer.loraWeights();
  } finally {
    await trainer.dispose();
  }

  // (e) PEFT layout for the registry, with what it came from.
  emit({ phase: 'export', done: 0, total: 1 });
  const adapter = toPeftAdapter(weights, { spec: lora, base: input.targetBase.config, ...(o.targetBaseName !== undefined ? { baseModelName: o.targetBaseName } : {}) });
  emit({ phase: 'export', done: 1, total: 1 });
  return {
    status: 'completed',
    adapter,
    examples,
    stats: { ...built.stats, train: { examples: examples.length, steps, losses } },
    lineage: transferLineage(input),
  };
}
