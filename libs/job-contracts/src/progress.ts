/**
 * What a running job reports through BullMQ's job progress (job.updateProgress): one object,
 * replaced on every update and readable from the job or QueueEvents' `progress` event.
 * Fields that do not apply to the current phase are null (JSON has no undefined).
 */
import { JobContractError } from './errors';
import { transferProgressSchema } from './transfer';
import { formatIssues, number, object, oneOf, optional, required, string, validate, type Infer, type Schema } from './validation';

export const JOB_PHASES = [
  'loading',
  // transfer (Trans-LoRA): candidate prompts, the discriminator's filter, the teacher's answers
  'generating',
  'filtering',
  'answering',
  'training',
  'checkpointing',
  'exporting',
  'evaluating',
  'embedding',
  'uploading',
  'completed',
] as const;
export type JobPhase = (typeof JOB_PHASES)[number];

/** A nullable number field (present, number or null). */
function nullableNumber(): Schema<number | null> {
  const inner = number();
  return {
    expected: 'a number or null',
    check(value, path, issues) {
      if (value === null) return null;
      return inner.check(value, path, issues);
    },
  };
}

const checkpointRefSchema = object({
  /** Optimizer steps the checkpoint contains. */
  step: required(number({ integer: true, min: 0 })),
  /** Blob address of the checkpoint manifest (see CheckpointManifest). */
  manifest: required(string({ pattern: /^[0-9a-f]{64}$/, patternName: 'a blob address' })),
});
export type CheckpointRef = Infer<typeof checkpointRefSchema>;

/**
 * A train job's companion discriminator (Trans-LoRA step 1), trained after the adapter: its own
 * units, so the job's step / totalSteps stay at the adapter's finished training instead of
 * starting again from 0 (a progress bar would go from 100 % back to 0 %).
 */
export const DISCRIMINATOR_PHASES = ['synthesize', 'train'] as const;
const discriminatorProgressSchema = object({
  phase: required(oneOf(DISCRIMINATOR_PHASES)),
  done: required(number({ integer: true, min: 0 })),
  total: required(number({ integer: true, min: 0 })),
  loss: optional(number()),
});
export type DiscriminatorProgress = Infer<typeof discriminatorProgressSchema>;

export const jobProgressSchema = object({
  phase: required(oneOf(JOB_PHASES)),
  /** Optimizer steps completed (or examples scored, for evaluate). */
  step: required(number({ integer: true, min: 0 })),
  totalSteps: required(number({ integer: true, min: 0 })),
  loss: required(nullableNumber()),
  learningRate: required(nullableNumber()),
  tokensPerSecond: required(nullableNumber()),
  etaSeconds: required(nullableNumber()),
  /** Latest held-out loss, when an evaluation ran. */
  evalLoss: optional(number()),
  /** The latest checkpoint in the object store: where a worker taking over this job resumes. */
  checkpoint: optional(checkpointRefSchema),
  /** Set when this attempt continued from a checkpoint: the step it resumed at. */
  resumedFromStep: optional(number({ integer: true, min: 0 })),
  /** transfer jobs: the Trans-LoRA phase, its units and the filter's acceptance rate (transfer.ts). */
  transfer: optional(transferProgressSchema),
  /** train jobs: the companion discriminator's phase and units, while it trains. */
  discriminator: optional(discriminatorProgressSchema),
  /** ISO 8601 time of the update. */
  updatedAt: required(string()),
});
export type JobProgress = Infer<typeof jobProgressSchema>;

/** Reads a progress value from BullMQ (which may be a number or anything a client stored). */
export function parseJobProgress(value: unknown): JobProgress {
  const result = validate(jobProgressSchema, value);
  if (!result.ok) throw new JobContractError('MESSAGE_INVALID', `job progress is invalid: ${formatIssues(result.issues)}`, result.issues);
  return result.value;
}

/** Like parseJobProgress but undefined for values that are not job progress (a fresh job has 0). */
export function readJobProgress(value: unknown): JobProgress | undefined {
  const result = validate(jobProgressSchema, value);
  return result.ok ? result.value : undefined;
}

/**
 * The checkpoint manifest blob: the files of one training checkpoint (peft-core's training
 * checkpoint directory) and the run they belong to. A progress update names the manifest's blob,
 * so one address identifies a complete checkpoint (its files are stored before the manifest).
 */
export interface CheckpointManifest {
  readonly formatVersion: 1;
  readonly jobId: string;
  readonly step: number;
  /** File name inside the checkpoint directory → blob address. */
  readonly files: Readonly<Record<string, string>>;
}
