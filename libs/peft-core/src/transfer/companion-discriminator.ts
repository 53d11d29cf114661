/**
 * The companion discriminator (Trans-LoRA step 1): trained while the task data still exists, right
 * after the source adapter, and kept with it so a later transfer can filter synthetic prompts
 * without the data. Real prompts come from the training set; synthetic ones are written by the
 * source model WITH the new adapter, few-shot prompted with real prompts (the paper's recipe: the
 * discriminator learns what the adapter's own synthetic prompts get wrong about the task).
 * The train job and `npm run eval:transfer` both call `trainCompanionDiscriminator`.
 */
import { PeftCoreError } from '../errors';
import type { LoraWeights } from '../lora/adapter';
import { LlamaModel } from '../model/llama-model';
import type { ProgressEvent } from '../train/trainer';
import { Rng } from '../util/rng';
import type { BaseModel, SizedTokenizer } from './base-model';
import { trainDiscriminator, type Discriminator, type DiscriminatorOptions } from './discriminator';
import { recombinedPrompts } from './recombined-prompts';
import { fewShotSeparator, generateSyntheticPrompts, type SyntheticPromptOptions } from './synthetic-prompts';

export interface CompanionDiscriminatorOptions {
  /** Synthetic prompts to generate (default: as many as real prompts used, at most 256). */
  readonly syntheticPrompts?: number;
  /**
   * Negatives made by joining two real prompts' middles (recombinedPrompts), beside the model's
   * synthetic ones (default 0: none). They teach the discriminator content as well as form.
   */
  readonly recombinedPrompts?: number;
  /** Real prompts used (a sample of the training prompts; default 256). */
  readonly realPrompts?: number;
  /** Seeds shown per few-shot generation (default 5). */
  readonly shots?: number;
  readonly seed?: number;
  readonly generation?: Omit<SyntheticPromptOptions, 'signal' | 'onBatch' | 'separator' | 'shots'>;
  readonly discriminator?: DiscriminatorOptions;
}

export type CompanionPhase = 'synthesize' | 'train';

export interface CompanionDiscriminatorInput {
  readonly base: BaseModel;
  readonly tokenizer: SizedTokenizer;
  /** The adapter just trained on the task data. */
  readonly adapter: LoraWeights;
  /** The task's real prompts (training split). */
  readonly prompts: readonly string[];
  readonly options?: CompanionDiscriminatorOptions;
  readonly signal?: AbortSignal;
  readonly onProgress?: (phase: CompanionPhase, done: number, total: number, loss?: number) => void;
}

export interface CompanionDiscriminatorStats {
  readonly realPrompts: number;
  /** Negatives: the model's synthetic prompts, then the recombined ones. */
  readonly syntheticPrompts: number;
  readonly recombinedPrompts: number;
  readonly generations: number;
  readonly separator: string;
  readonly steps: number;
  readonly finalLoss: number;
  /** p(real) ≥ threshold on the real prompts used / on the synthetic ones (training-set figures). */
  readonly realAccepted: number;
  readonly syntheticAccepted: number;
}

export type CompanionDiscriminatorResult =
  | { readonly status: 'aborted'; readonly phase: CompanionPhase }
  | { readonly status: 'completed'; readonly discriminator: Discriminator; readonly stats: CompanionDiscriminatorStats };

export async function trainCompanionDiscriminator(input: CompanionDiscriminatorInput): Promise<CompanionDiscriminatorResult> {
  const o = input.options ?? {};
  const rng = new Rng(o.seed ?? 1);
  const distinct = [...new Set(input.prompts.map((p) => p.trim()).filter((p) => p.length > 0))];
  if (distinct.length < 2) {
    throw new PeftCoreError('INVALID_ARGUMENT', `companion discriminator: needs at least 2 distinct non-empty prompts, got ${distinct.length}`);
  }
  const real = rng.shuffle([...distinct]).slice(0, o.realPrompts ?? 256);
  const separator = fewShotSeparator(real);
  const n = o.syntheticPrompts ?? Math.min(256, real.length);

  input.onProgress?.('synthesize', 0, n);
  const model = LlamaModel.create(input.base);
  let synthetic;
  try {
    synthetic = await generateSyntheticPrompts({
      model,
      tokenizer: input.tokenizer,
      adapter: input.adapter,
      // Seeds are drawn from the real prompts; generated copies of ANY real prompt are dropped below.
      seeds: real,
      n,
      rng,
      options: {
        ...o.generation,
        separator,
        shots: o.shots ?? 5,
        // Negatives need not be well-formed: a continuation that never reaches the prompt end is kept as written.
        requirePromptEnd: false,
        ...(input.signal ? { signal: input.signal } : {}),
        onBatch: (kept, total) => input.onProgress?.('synthesize', kept, total),
      },
    });
  } finally {
    await model.dispose();
  }
  if (synthetic.aborted) return { status: 'aborted', phase: 'synthesize' };
  // A synthetic prompt equal to a real one would be trained as both labels.
  const realSet = new Set(input.prompts.map((p) => p.trim()));
  const modelPrompts = synthetic.prompts.filter((p) => !realSet.has(p));
  if (modelPrompts.length === 0) {
    throw new PeftCoreError('INVALID_ARGUMENT', `companion discriminator: the model wrote no synthetic prompt distinct from the real ones in ${synthetic.generations} generations`);
  }

  // recombinedPrompts never returns one of the real prompts it was given.
  const recombined = recombinedPrompts(distinct, o.recombinedPrompts ?? 0, rng);
  const syntheticPrompts = [...modelPrompts, ...recombined];
  const steps = o.discriminator?.steps ?? 60;
  input.onProgress?.('train', 0, steps);
  let discriminator: Discriminator;
  try {
    discriminator = await trainDiscriminator({
      base: input.base,
      tokenizer: input.tokenizer,
      realPrompts: real,
      syntheticPrompts,
      options: { seed: o.seed ?? 1, ...o.discriminator },
      ...(input.signal ? { signal: input.signal } : {}),
      onProgress: (e: ProgressEvent) => input.onProgress?.('train', e.step, e.totalSteps, e.loss),
    });
  } catch (e) {
    if (input.signal?.aborted) return { status: 'aborted', phase: 'train' };
    throw e;
  }
  const onReal = await discriminator.judge(real);
  const onSynthetic = await discriminator.judge(syntheticPrompts);
  const meta = discriminator.artifact.meta;
  return {
    status: 'completed',
    discriminator,
    stats: {
      realPrompts: real.length,
      syntheticPrompts: modelPrompts.length,
      recombinedPrompts: recombined.length,
      generations: synthetic.generations,
      separator,
      steps: meta.training.steps,
      finalLoss: meta.training.finalLoss,
      realAccepted: onReal.real.filter(Boolean).length / real.length,
      syntheticAccepted: onSynthetic.real.filter(Boolean).length / syntheticPrompts.length,
    },
  };
}
