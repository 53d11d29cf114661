/**
 * Job kinds, their queues and their payloads: the name → payload map that producers
 * (registry-api) and consumers (trainer-worker) share. One BullMQ queue per kind, so each
 * kind gets its own concurrency and a slow kind never starves another.
 *
 * `train-router` (learned routers over registered experts) lives in train-router.ts.
 */
import { adapterFilesSchema, modelFilesSchema, sha256Schema } from './blobs';
import { JobContractError } from './errors';
import { pretrainHyperparametersSchema, trainHyperparametersSchema, EXPORT_DTYPES } from './hyperparameters';
import { companionDiscriminatorSchema, transferPayloadSchema } from './transfer';
import { trainRouterPayloadSchema } from './train-router';
import { captionsSchema, embeddingSpaceSchema, retrieverBaseSchema, retrieverFilesSchema, trainRetrieverPayloadSchema } from './train-retriever';
import { formatIssues, nested, number, object, oneOf, optional, required, string, validate, withDefault, type Infer, type InferInput, type Schema } from './validation';

export const JOB_KINDS = ['train', 'pretrain', 'embed', 'evaluate', 'transfer', 'train-router', 'train-retriever'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export function isJobKind(value: string): value is JobKind {
  return (JOB_KINDS as readonly string[]).includes(value);
}

/** The BullMQ queue of each kind (BullMQ forbids ':' in queue names). */
export const QUEUE_NAMES: Readonly<Record<JobKind, string>> = {
  train: 'palette-train',
  pretrain: 'palette-pretrain',
  embed: 'palette-embed',
  evaluate: 'palette-evaluate',
  transfer: 'palette-transfer',
  'train-router': 'palette-train-router',
  'train-retriever': 'palette-train-retriever',
};

const baseModelSchema = object({
  /** Shown in logs and written as base_model_name_or_path of exported adapters. */
  name: optional(string({ minLength: 1, maxLength: 200 })),
  files: required(modelFilesSchema),
});

const checkpointingSchema = object({
  /** Save a resumable checkpoint to the object store every this many optimizer steps. */
  everySteps: withDefault(number({ integer: true, min: 1, max: 1_000_000 }), 50),
});

const datasetSchema = object({
  /** A JSONL blob: {"prompt","completion"}, {"text"} or {"messages"} records (peft-core datasets/). */
  sha256: required(sha256Schema),
  /** Fraction of examples held out for eval loss, split by a hash of each example. */
  evalFraction: withDefault(number({ min: 0, max: 0.5 }), 0),
});

export const trainPayloadSchema = object({
  baseModel: required(baseModelSchema),
  dataset: required(datasetSchema),
  hyperparameters: nested(trainHyperparametersSchema),
  checkpointing: nested(checkpointingSchema),
  /** Storage dtype of the exported adapter. */
  dtype: withDefault(oneOf(EXPORT_DTYPES), 'F32'),
  /** Trans-LoRA's companion discriminator, trained after the adapter while the data exists (transfer.ts). */
  companionDiscriminator: nested(companionDiscriminatorSchema),
});

export const pretrainPayloadSchema = object({
  /** The starting weights (e.g. a random init) with config.json and tokenizer.json. */
  baseModel: required(baseModelSchema),
  /** The corpus: a JSONL blob of {"text"} documents (other record formats are accepted too). */
  corpus: required(datasetSchema),
  hyperparameters: nested(pretrainHyperparametersSchema),
  checkpointing: nested(checkpointingSchema),
  dtype: withDefault(oneOf(EXPORT_DTYPES), 'F32'),
});

/** One adapter version into one embedding space (train-retriever.ts): the registry enqueues it, one job per (version, space). */
export const embedPayloadSchema = object({
  adapterVersionId: required(string({ minLength: 1, maxLength: 64 })),
  space: required(embeddingSpaceSchema),
  /** The space's base (its files: the frozen text encoder and the adapter's layout). */
  baseModel: required(retrieverBaseSchema),
  /** The space's retriever artifact files. */
  retriever: required(retrieverFilesSchema),
  adapter: required(adapterFilesSchema),
  /** The version's captions (peft-core adapterCaptions of its description, card, title, tags); none → no text vector. */
  captions: captionsSchema,
});

export const evaluatePayloadSchema = object({
  baseModel: required(baseModelSchema),
  /** Absent: score the base model alone (the baseline). */
  adapter: optional(adapterFilesSchema),
  task: required(
    object({
      /** An evaluation-world task id (peft-core world/, e.g. "reverse-word"). */
      worldTask: required(string({ pattern: /^[a-z0-9]+(?:-[a-z0-9]+)*$/, patternName: 'a kebab-case world task id' })),
      /** Seed of the task's eval split (the same seed as training keeps eval inputs out of train). */
      seed: withDefault(number({ integer: true, min: 0, max: 0xffffffff }), 0),
      examples: withDefault(number({ integer: true, min: 1, max: 10_000 }), 100),
    }),
  ),
  maxNewTokens: withDefault(number({ integer: true, min: 1, max: 1024 }), 16),
  /** Rows generated together. */
  batchSize: withDefault(number({ integer: true, min: 1, max: 256 }), 16),
});

/** The payload schema of each kind. */
export const PAYLOAD_SCHEMAS = {
  train: trainPayloadSchema,
  pretrain: pretrainPayloadSchema,
  embed: embedPayloadSchema,
  evaluate: evaluatePayloadSchema,
  transfer: transferPayloadSchema,
  'train-router': trainRouterPayloadSchema,
  'train-retriever': trainRetrieverPayloadSchema,
} as const satisfies Record<JobKind, Schema<unknown, unknown>>;

/** Validated payloads, every default filled in: what a job's data holds. */
export interface JobPayloads {
  train: Infer<typeof trainPayloadSchema>;
  pretrain: Infer<typeof pretrainPayloadSchema>;
  embed: Infer<typeof embedPayloadSchema>;
  evaluate: Infer<typeof evaluatePayloadSchema>;
  transfer: Infer<typeof transferPayloadSchema>;
  'train-router': Infer<typeof trainRouterPayloadSchema>;
  'train-retriever': Infer<typeof trainRetrieverPayloadSchema>;
}

/** What a producer may submit (defaulted fields optional). */
export interface JobInputs {
  train: InferInput<typeof trainPayloadSchema>;
  pretrain: InferInput<typeof pretrainPayloadSchema>;
  embed: InferInput<typeof embedPayloadSchema>;
  evaluate: InferInput<typeof evaluatePayloadSchema>;
  transfer: InferInput<typeof transferPayloadSchema>;
  'train-router': InferInput<typeof trainRouterPayloadSchema>;
  'train-retriever': InferInput<typeof trainRetrieverPayloadSchema>;
}

export type TrainJobPayload = JobPayloads['train'];
export type PretrainJobPayload = JobPayloads['pretrain'];
export type EmbedJobPayload = JobPayloads['embed'];
export type EvaluateJobPayload = JobPayloads['evaluate'];

/**
 * Validates `input` as a payload of `kind` and fills in defaults. Throws JobContractError
 * (PAYLOAD_INVALID) naming EVERY bad field, e.g.
 * `train payload is invalid: hyperparameters.lora.r: must be ≥ 1, got 0; dataset.sha256: is required`.
 */
export function parseJobPayload<K extends JobKind>(kind: K, input: unknown): JobPayloads[K] {
  if (!isJobKind(kind)) throw new JobContractError('UNKNOWN_JOB_KIND', `unknown job kind ${JSON.stringify(kind)} (known: ${JOB_KINDS.join(', ')})`);
  const schema = PAYLOAD_SCHEMAS[kind] as Schema<unknown, unknown>;
  const result = validate(schema, input);
  if (!result.ok) throw new JobContractError('PAYLOAD_INVALID', `${kind} payload is invalid: ${formatIssues(result.issues)}`, result.issues);
  return result.value as JobPayloads[K];
}
