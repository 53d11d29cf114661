/**
 * Trans-LoRA in the job contracts: the `transfer` job's payload and result, its progress detail,
 * and the companion-discriminator options of a `train` job (peft-core transfer/, ALGORITHMS.md
 * "Trans-LoRA").
 *
 * This file imports nothing from payloads.ts (payloads.ts imports it), so the small base-model
 * and checkpointing schemas are restated here rather than shared.
 */
import { adapterFilesSchema, modelFilesSchema, sha256Schema, type StoredFile } from './blobs';
import { EXPORT_DTYPES, trainHyperparametersSchema } from './hyperparameters';
import type { TrainingMetrics } from './results';
import { arrayOf, boolean, nested, number, object, oneOf, optional, recordOf, required, string, withDefault, type Infer } from './validation';

/** Where a train job stands on its companion discriminator. */
export const companionDiscriminatorSchema = object({
  /**
   * Train the discriminator after the adapter, while the data exists. Default on: it costs a few
   * percent of a LoRA run on small models, and without it a later transfer can only run unfiltered.
   * Datasets without prompts (plain text records) have nothing to discriminate: skipped, with a log line.
   */
  enabled: withDefault(boolean(), true),
  /** Real prompts sampled from the training split. */
  realPrompts: withDefault(number({ integer: true, min: 2, max: 100_000 }), 256),
  /** Synthetic prompts the source model + new adapter write (few-shot). */
  syntheticPrompts: withDefault(number({ integer: true, min: 1, max: 100_000 }), 128),
  /**
   * Negatives made by joining two real prompts' middles (peft-core `recombinedPrompts`), beside the
   * synthetic ones: well-formed prompts with the wrong content, so the discriminator judges content
   * as well as form (it then needs ~300 steps: at 60 the world's parity discriminator called every
   * prompt real). 0: none. Off by default: on the evaluation world such a filter kept 7 % of parity's
   * candidates (student 100 % against 80 % unfiltered) but also the long words double-letters'
   * student learns from (49 % against 69 %): 88.5 % of the real-data adapters on average, against
   * 93.0 % and 90.1 % without it (tools/eval-transfer/README.md).
   */
  recombinedPrompts: withDefault(number({ integer: true, min: 0, max: 100_000 }), 0),
  steps: withDefault(number({ integer: true, min: 1, max: 100_000 }), 60),
  lr: withDefault(number({ greaterThan: 0, max: 10 }), 1e-2),
  /** p(real) at or above this is "real"; a transfer may override it. */
  threshold: withDefault(number({ greaterThan: 0, max: 0.999 }), 0.5),
  seed: withDefault(number({ integer: true, min: 0, max: 0xffffffff }), 1),
});
export type CompanionDiscriminatorSettings = Infer<typeof companionDiscriminatorSchema>;

const transferBaseSchema = object({
  name: optional(string({ minLength: 1, maxLength: 200 })),
  files: required(modelFilesSchema),
});

export const transferHyperparametersSchema = object({
  /**
   * Candidate prompts the target base writes before filtering; with `accepted`, the most it may write.
   * 8192: students need thousands of distinct examples; on the evaluation world 512 candidates gave
   * 77.7 % of the real-data adapters' accuracy and 8192 gave 90–93 % (tools/eval-transfer/README.md),
   * about 1–3 minutes per transfer there on 2 cores.
   */
  candidates: withDefault(number({ integer: true, min: 1, max: 100_000 }), 8192),
  /**
   * Generate and filter in rounds until the filter has accepted this many prompts (peft-core
   * `TransferOptions.accepted`); unset: exactly `candidates`. The student's data then keeps its size
   * however much the filter removes (eval:transfer runs with 6144, at most 24576 candidates).
   */
  accepted: optional(number({ integer: true, min: 1, max: 100_000 })),
  /**
   * Seeds shown per few-shot generation (the paper: 5). 0: none, each generation only primed with the
   * seeds' shared start (tiny bases that never saw a list of prompts stop after one: eval:transfer).
   */
  shots: withDefault(number({ integer: true, min: 0, max: 64 }), 5),
  /**
   * Prime each generation with up to this many characters of a seed's input too (0: off; see
   * peft-core's `seedPrefixChars`). Keeps a base that never saw the task on its kind of input:
   * on the evaluation world 2 took transferred / real-data accuracy from 64 % to 78 %
   * (tools/eval-transfer/README.md).
   */
  seedPrefixChars: withDefault(number({ integer: true, min: 0, max: 64 }), 2),
  /** Filter with the source adapter's companion discriminator; false: keep every candidate (the unfiltered ablation). */
  filter: withDefault(boolean(), true),
  /** Overrides the discriminator's own threshold. */
  threshold: optional(number({ greaterThan: 0, max: 0.999 })),
  /** Fewer accepted prompts than this fails the job (a distillation set that small teaches nothing). */
  minAccepted: withDefault(number({ integer: true, min: 1, max: 100_000 }), 8),
  temperature: withDefault(number({ greaterThan: 0, max: 10 }), 1),
  /** Token budget of one candidate prompt / of one teacher answer (answers that hit it are dropped). */
  promptMaxNewTokens: withDefault(number({ integer: true, min: 1, max: 4096 }), 48),
  answerMaxNewTokens: withDefault(number({ integer: true, min: 1, max: 4096 }), 64),
  /** Rows per generation / discriminator / teacher batch. */
  batchSize: withDefault(number({ integer: true, min: 1, max: 1024 }), 16),
  /** Seeds the few-shot draws and sampling; the student's run uses training.seed. */
  seed: withDefault(number({ integer: true, min: 0, max: 0xffffffff }), 0),
  /** The student LoRA's run on the target base (same fields and defaults as a train job's). */
  training: nested(trainHyperparametersSchema),
});
export type TransferHyperparameters = Infer<typeof transferHyperparametersSchema>;

export const transferPayloadSchema = object({
  /** The base the source adapter was trained on (the teacher's base). */
  sourceBase: required(transferBaseSchema),
  sourceAdapter: required(
    object({
      /** `name@vN`, recorded in the lineage. */
      ref: required(string({ minLength: 1, maxLength: 300 })),
      files: required(adapterFilesSchema),
    }),
  ),
  /** The source adapter's companion discriminator (artifact files); absent when filtering is off. */
  discriminator: optional(
    object({
      ref: required(string({ minLength: 1, maxLength: 300 })),
      files: required(recordOf(sha256Schema, { minEntries: 1 })),
    }),
  ),
  targetBase: required(transferBaseSchema),
  /** Real task prompts shown to the target base (resolved from a dataset by the registry when given one). */
  seeds: required(
    object({
      prompts: required(arrayOf(string({ minLength: 1, maxLength: 20_000 }), { minItems: 1, maxItems: 1000 })),
      /** The dataset blob the seeds were taken from, or that stores them (lineage). */
      dataset: optional(sha256Schema),
    }),
  ),
  hyperparameters: nested(transferHyperparametersSchema),
  checkpointing: nested(object({ everySteps: withDefault(number({ integer: true, min: 1, max: 1_000_000 }), 50) })),
  dtype: withDefault(oneOf(EXPORT_DTYPES), 'F32'),
});
export type TransferJobPayload = Infer<typeof transferPayloadSchema>;

/** A transfer's phases as its progress reports them (peft-core TransferPhase, plus the student's training). */
export const TRANSFER_PHASES = ['generate', 'filter', 'answer', 'train', 'export'] as const;

/**
 * The transfer detail of a job's progress (JobProgress.transfer): the phase, its units, and the
 * filter's figures once known. `distillationSet` names the stored (prompt, answer) set: a retried
 * or taken-over job trains from it (and its checkpoint) instead of generating again.
 */
export const transferProgressSchema = object({
  phase: required(oneOf(TRANSFER_PHASES)),
  done: required(number({ integer: true, min: 0 })),
  total: required(number({ integer: true, min: 0 })),
  candidates: optional(number({ integer: true, min: 0 })),
  accepted: optional(number({ integer: true, min: 0 })),
  acceptanceRate: optional(number({ min: 0, max: 1 })),
  filtered: optional(boolean()),
  threshold: optional(number()),
  meanScore: optional(number()),
  /** Teacher answers kept / dropped (cut short by answerMaxNewTokens, or empty). */
  answered: optional(number({ integer: true, min: 0 })),
  droppedTruncated: optional(number({ integer: true, min: 0 })),
  droppedEmpty: optional(number({ integer: true, min: 0 })),
  distillationSet: optional(sha256Schema),
});
export type TransferProgress = Infer<typeof transferProgressSchema>;

/** What a transfer measured, next to the student's training metrics. */
export interface TransferMetrics {
  readonly filtered: boolean;
  readonly threshold?: number;
  readonly candidatesRequested: number;
  readonly candidates: number;
  readonly accepted: number;
  /** accepted / candidates (1 when unfiltered). */
  readonly acceptanceRate: number;
  readonly meanScore?: number;
  readonly answered: number;
  readonly droppedTruncated: number;
  readonly droppedEmpty: number;
  readonly seedCount: number;
  /** sha256 of the seed prompts as a JSON array (peft-core seedsHash). */
  readonly seedsHash: string;
  readonly sourceAdapter: string;
  readonly discriminator?: string;
  /** Set when a retry reused the stored distillation set. */
  readonly reusedDistillationSet?: boolean;
}

export interface TransferJobResult {
  readonly kind: 'transfer';
  /** The student: a PEFT adapter for the target base. */
  readonly adapter: { readonly files: Readonly<Record<string, StoredFile>> };
  /** The (prompt, teacher answer) pairs it was trained on, as prompt/completion JSONL. */
  readonly distillationSet: StoredFile;
  readonly metrics: TrainingMetrics & { readonly transfer: TransferMetrics };
}

/** What a train job reports about its companion discriminator (the artifact is in `TrainJobResult.artifacts`). */
export interface CompanionDiscriminatorReport {
  readonly trained: boolean;
  /** Why not, when not trained (disabled, a text-only dataset…). */
  readonly skipped?: string;
  readonly realPrompts?: number;
  readonly syntheticPrompts?: number;
  /** Negatives made from the real prompts (recombinedPrompts), beside the synthetic ones. */
  readonly recombinedPrompts?: number;
  readonly finalLoss?: number;
  readonly realAccepted?: number;
  readonly syntheticAccepted?: number;
  readonly durationSeconds?: number;
}
