/**
 * What each kind of job returns (BullMQ's return value) and what the worker submits to the
 * registry's internal API to register it.
 */
import type { ArtifactResult } from './artifacts';
import type { StoredFile } from './blobs';
import type { JobKind } from './payloads';
import type { CompanionDiscriminatorReport, TransferJobResult } from './transfer';
import type { TrainRouterJobResult } from './train-router';
import type { EmbedJobResult, TrainRetrieverJobResult } from './train-retriever';

export interface TrainingMetrics {
  /** Optimizer steps completed. */
  readonly steps: number;
  readonly finalLoss: number;
  /** Held-out loss at the end (absent without an eval split). */
  readonly evalLoss?: number;
  readonly trainExamples: number;
  readonly evalExamples: number;
  /** Set when the run continued from a checkpoint (after a crash, a shutdown or a retry). */
  readonly resumedFromStep?: number;
  /** Wall time of the attempt that finished the run. */
  readonly durationSeconds: number;
}

export interface TrainJobResult {
  readonly kind: 'train';
  /** The PEFT adapter: adapter_config.json and adapter_model.safetensors. */
  readonly adapter: { readonly files: Readonly<Record<string, StoredFile>> };
  readonly metrics: TrainingMetrics;
  /** Trans-LoRA's companion discriminator: what happened, and the artifact when one was trained (absent from older workers). */
  readonly companionDiscriminator?: CompanionDiscriminatorReport & { readonly artifact?: ArtifactResult };
}

export interface PretrainJobResult {
  readonly kind: 'pretrain';
  /** The trained base in Hugging Face layout (config.json, model.safetensors, tokenizer files). */
  readonly model: { readonly files: Readonly<Record<string, StoredFile>> };
  readonly metrics: TrainingMetrics;
}

export type { EmbedJobResult } from './train-retriever';

export interface EvaluationSample {
  readonly prompt: string;
  readonly output: string;
  readonly answer: string;
  readonly correct: boolean;
}

export interface EvaluateJobResult {
  readonly kind: 'evaluate';
  readonly metrics: {
    readonly task: string;
    readonly examples: number;
    readonly correct: number;
    /** correct / examples, exact match after trimming. */
    readonly accuracy: number;
  };
  /** The first few scored examples, for a human to look at. */
  readonly samples: readonly EvaluationSample[];
}

export interface JobResults {
  train: TrainJobResult;
  pretrain: PretrainJobResult;
  embed: EmbedJobResult;
  evaluate: EvaluateJobResult;
  transfer: TransferJobResult;
  'train-router': TrainRouterJobResult;
  'train-retriever': TrainRetrieverJobResult;
}

export type AnyJobResult = JobResults[JobKind];

/** The body of POST /api/v1/internal/jobs/:id/result (sent with the job id as Idempotency-Key). */
export interface JobResultSubmission<K extends JobKind = JobKind> {
  readonly jobId: string;
  readonly kind: K;
  readonly result: JobResults[K];
}
