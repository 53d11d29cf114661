/**
 * The Trans-LoRA discriminator: a base LM + LoRA asked "<prompt>\nIs this real?" and trained to
 * answer " yes" for real task prompts and " no" for synthetic ones. p(real) is read from the two
 * answer tokens' logits after the question, so scoring is one forward pass per prompt (batched).
 */
import { PeftCoreError } from '../errors';
import type { LoraWeights } from '../lora/adapter';
import { LlamaModel } from '../model/llama-model';
import { encodePrompt, type PromptCompletionTrainingExample } from '../train/data';
import { residualAdapterForOriginalBase, toPeftAdapter } from '../train/export';
import type { LoraSpec } from '../train/lora-setup';
import { Trainer, type ProgressEvent } from '../train/trainer';
import { Rng } from '../util/rng';
import { checkAdapterFitsBase, checkTokenizerFitsModel, type BaseModel, type SizedTokenizer } from './base-model';
import { DISCRIMINATOR_FORMAT, type DiscriminatorArtifact, type DiscriminatorMeta } from './discriminator-artifact';

export interface DiscriminatorOptions {
  readonly steps?: number;
  readonly batchSize?: number;
  readonly lr?: number;
  readonly seed?: number;
  /** Default r 8, alpha 16, all-linear, peft-default init. */
  readonly lora?: LoraSpec;
  /** Default "\nIs this real?". */
  readonly question?: string;
  /** Default " yes" / " no"; only their first tokens are scored, which must differ. */
  readonly answers?: { readonly real: string; readonly synthetic: string };
  /** Default 0.5. */
  readonly threshold?: number;
  /** Longest training row in tokens (longer prompts are cut from the end by the trainer). */
  readonly maxSeqLen?: number;
  readonly baseModelName?: string;
}

export interface TrainDiscriminatorInput {
  readonly base: BaseModel;
  readonly tokenizer: SizedTokenizer;
  readonly realPrompts: readonly string[];
  readonly syntheticPrompts: readonly string[];
  readonly options?: DiscriminatorOptions;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
}

const DEFAULT_LORA: LoraSpec = { r: 8, alpha: 16, targetModules: 'all-linear', init: 'peft-default' };
const DEFAULT_QUESTION = '\nIs this real?';
const DEFAULT_ANSWERS = { real: ' yes', synthetic: ' no' } as const;

/**
 * Where the two answers part: their shared leading tokens (e.g. a lone space under a byte-level
 * tokenizer with few merges) and the first token of each after it, whose logits are compared.
 */
export function answerTokens(tokenizer: SizedTokenizer, answers: { readonly real: string; readonly synthetic: string }): { prefix: number[]; real: number; synthetic: number } {
  const real = tokenizer.encode(answers.real, { addSpecialTokens: false });
  const synthetic = tokenizer.encode(answers.synthetic, { addSpecialTokens: false });
  let k = 0;
  while (k < real.length && k < synthetic.length && real[k] === synthetic[k]) k++;
  if (k === real.length || k === synthetic.length) {
    throw new PeftCoreError('INVALID_ARGUMENT', `discriminator answers ${JSON.stringify(answers.real)} and ${JSON.stringify(answers.synthetic)} do not differ in a token (one is a prefix of the other)`);
  }
  return { prefix: real.slice(0, k), real: real[k]!, synthetic: synthetic[k]! };
}

/**
 * Trains the discriminator on real vs synthetic prompts (balanced by repeating the smaller side,
 * so the prior of the answer tokens is not learned instead of the content).
 */
export async function trainDiscriminator(input: TrainDiscriminatorInput): Promise<Discriminator> {
  const { base, tokenizer, realPrompts, syntheticPrompts } = input;
  const o = input.options ?? {};
  checkTokenizerFitsModel(base.config, tokenizer, 'trainDiscriminator');
  if (realPrompts.length === 0 || syntheticPrompts.length === 0) {
    throw new PeftCoreError('INVALID_ARGUMENT', `trainDiscriminator: needs real and synthetic prompts, got ${realPrompts.length} real and ${syntheticPrompts.length} synthetic`);
  }
  const question = o.question ?? DEFAULT_QUESTION;
  const answers = o.answers ?? DEFAULT_ANSWERS;
  const { prefix, ...answerTokenIds } = answerTokens(tokenizer, answers);
  const threshold = o.threshold ?? 0.5;
  if (!(threshold > 0 && threshold < 1)) throw new PeftCoreError('INVALID_ARGUMENT', `discriminator threshold must be in (0, 1), got ${threshold}`);
  const seed = o.seed ?? 1;
  const examples = balancedExamples(realPrompts, syntheticPrompts, question, answers, new Rng(seed));
  const lora = o.lora ?? DEFAULT_LORA;
  const trainer = await Trainer.create({
    config: base.config,
    weights: base.weights,
    tokenizer,
    train: examples,
    options: {
      mode: 'lora',
      steps: o.steps ?? 60,
      batchSize: o.batchSize ?? 16,
      lr: o.lr ?? 1e-2,
      warmupSteps: 5,
      minLr: 1e-4,
      maxGradNorm: 1,
      seed,
      lora,
      ...(o.maxSeqLen !== undefined ? { maxSeqLen: o.maxSeqLen } : {}),
    },
  });
  try {
    const result = await trainer.train({ ...(input.signal ? { signal: input.signal } : {}), ...(input.onProgress ? { onProgress: input.onProgress } : {}) });
    if (result.status !== 'completed') throw new PeftCoreError('INVALID_ARGUMENT', `trainDiscriminator: training stopped at step ${result.step} (${result.status})`);
    const weights = trainer.usesResidualBase ? residualAdapterForOriginalBase(trainer.loraWeights(), trainer.initialLora as LoraWeights) : trainer.loraWeights();
    const meta: DiscriminatorMeta = {
      format: DISCRIMINATOR_FORMAT,
      question,
      answers: { real: answers.real, synthetic: answers.synthetic },
      answerPrefixTokenIds: prefix,
      answerTokenIds,
      threshold,
      base: { family: base.config.family, hiddenSize: base.config.hiddenSize, numLayers: base.config.numLayers, vocabSize: base.config.vocabSize },
      training: { realPrompts: realPrompts.length, syntheticPrompts: syntheticPrompts.length, steps: result.step, finalLoss: result.losses[result.losses.length - 1]! },
    };
    const adapter = toPeftAdapter(weights, { spec: lora, base: base.config, ...(o.baseModelName !== undefined ? { baseModelName: o.baseModelName } : {}) });
    return Discriminator.fromArtifact({ base, tokenizer, artifact: { adapter, meta } });
  } finally {
    await trainer.dispose();
  }
}

function balancedExamples(
  real: readonly string[],
  synthetic: readonly string[],
  question: string,
  answers: { readonly real: string; readonly synthetic: string },
  rng: Rng,
): PromptCompletionTrainingExample[] {
  const size = Math.max(real.length, synthetic.length);
  const cycle = (items: readonly string[]): string[] => Array.from({ length: size }, (_, i) => items[i % items.length]!);
  const examples = [
    ...cycle(real).map((p) => ({ prompt: `${p}${question}`, completion: answers.real })),
    ...cycle(synthetic).map((p) => ({ prompt: `${p}${question}`, completion: answers.synthetic })),
  ];
  return rng.shuffle(examples);
}

export interface DiscriminatorScoreOptions {
  /** Prompts per forward batch (default 32). */
  readonly batchSize?: number;
  /** judge() only: replaces the stored threshold (a transfer job may ask for a stricter or looser filter). */
  readonly threshold?: number;
}

/** A trained discriminator bound to its base and tokenizer. Call dispose() to free its sessions. */
export class Discriminator {
  private constructor(
    readonly artifact: DiscriminatorArtifact,
    readonly tokenizer: SizedTokenizer,
    private readonly model: LlamaModel,
  ) {}

  /** Binds a stored discriminator (readDiscriminatorDir) to the base and tokenizer it was trained with. */
  static fromArtifact(input: { readonly base: BaseModel; readonly tokenizer: SizedTokenizer; readonly artifact: DiscriminatorArtifact }): Discriminator {
    const { base, tokenizer, artifact } = input;
    checkTokenizerFitsModel(base.config, tokenizer, 'discriminator');
    checkAdapterFitsBase(artifact.adapter.weights, base.config, 'discriminator');
    const { answerTokenIds, answerPrefixTokenIds } = artifact.meta;
    const encoded = answerTokens(tokenizer, artifact.meta.answers);
    if (encoded.real !== answerTokenIds.real || encoded.synthetic !== answerTokenIds.synthetic || encoded.prefix.join(',') !== answerPrefixTokenIds.join(',')) {
      throw new PeftCoreError('TOKENIZER_INVALID', 'discriminator: its answers do not encode to the stored answer tokens with this tokenizer (not the tokenizer it was trained with)');
    }
    return new Discriminator(artifact, tokenizer, LlamaModel.create(base));
  }

  get threshold(): number {
    return this.artifact.meta.threshold;
  }

  /**
   * p(real) per prompt: softmax over just the two answer tokens' logits after the question (and
   * the answers' shared leading tokens, if any), i.e.
   * sigmoid(logit_real − logit_synthetic). One generation step per batch (the decode graph's
   * prefill left-pads prompts of different lengths), its logits observed through onLogits.
   */
  async score(prompts: readonly string[], options: DiscriminatorScoreOptions = {}): Promise<number[]> {
    const { question, answerTokenIds, answerPrefixTokenIds } = this.artifact.meta;
    const batchSize = options.batchSize ?? 32;
    const scores = new Array<number>(prompts.length).fill(Number.NaN);
    for (let start = 0; start < prompts.length; start += batchSize) {
      const chunk = prompts.slice(start, start + batchSize).map((p) => [...encodePrompt(this.tokenizer, `${p}${question}`), ...answerPrefixTokenIds]);
      await this.model.generate(chunk, {
        maxNewTokens: 1,
        padTokenId: this.tokenizer.eosTokenId as number,
        lora: this.artifact.adapter.weights,
        onLogits: (row, logits) => {
          scores[start + row] = 1 / (1 + Math.exp(logits[answerTokenIds.synthetic]! - logits[answerTokenIds.real]!));
        },
      });
    }
    return scores;
  }

  /** Which prompts the discriminator calls real (p(real) ≥ threshold), with their scores. */
  async judge(prompts: readonly string[], options: DiscriminatorScoreOptions = {}): Promise<{ readonly real: boolean[]; readonly scores: number[] }> {
    const threshold = options.threshold ?? this.threshold;
    if (!(threshold > 0 && threshold < 1)) throw new PeftCoreError('INVALID_ARGUMENT', `discriminator threshold must be in (0, 1), got ${threshold}`);
    const scores = await this.score(prompts, options);
    return { real: scores.map((s) => s >= threshold), scores };
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
