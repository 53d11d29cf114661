/**
 * Training hyperparameters and their defaults, in one place so the registry (which shows and
 * stores them) and the worker (which uses them) never disagree. The producer validates a payload
 * BEFORE enqueueing it (parseJobPayload), so the stored job carries every default explicitly:
 * a worker running a later version with other defaults still resumes the same run.
 */
import { arrayOf, boolean, literalOr, nested, number, object, oneOf, optional, withDefault, type Infer } from './validation';

/** The linear projections LoRA can target (same names and order as peft-core's LINEAR_MODULES). */
export const LORA_TARGET_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LoraTargetModule = (typeof LORA_TARGET_MODULES)[number];

/** LoRA initialisations the trainer implements (peft-core's LoraInitMethod). */
export const LORA_INIT_METHODS = ['peft-default', 'gaussian', 'pissa', 'lora-ga'] as const;

/** Storage dtypes for exported weights. */
export const EXPORT_DTYPES = ['F32', 'F16', 'BF16'] as const;

const positiveInt = (max: number) => number({ integer: true, min: 1, max });
const nonNegativeInt = (max: number) => number({ integer: true, min: 0, max });
const learningRate = number({ greaterThan: 0, max: 10 });

export const loraSchema = object({
  r: withDefault(positiveInt(1024), 8),
  alpha: withDefault(number({ greaterThan: 0, max: 65536 }), 16),
  targetModules: withDefault(literalOr('all-linear', arrayOf(oneOf(LORA_TARGET_MODULES), { minItems: 1, unique: true })), ['q_proj', 'v_proj']),
  init: withDefault(oneOf(LORA_INIT_METHODS), 'peft-default'),
  rsLoRA: withDefault(boolean(), false),
});
export type LoraHyperparameters = Infer<typeof loraSchema>;

/** Fields every training run has (LoRA `train` and full `pretrain`). */
function optimisation(defaults: { steps: number; batchSize: number; lr: number; warmupSteps: number; minLr: number; weightDecay: number }) {
  return {
    /** Optimizer steps (the run length is given in steps so progress and ETA are exact). */
    steps: withDefault(positiveInt(1_000_000), defaults.steps),
    batchSize: withDefault(positiveInt(4096), defaults.batchSize),
    gradAccumulation: withDefault(positiveInt(1024), 1),
    lr: withDefault(learningRate, defaults.lr),
    warmupSteps: withDefault(nonNegativeInt(1_000_000), defaults.warmupSteps),
    minLr: withDefault(number({ min: 0, max: 10 }), defaults.minLr),
    weightDecay: withDefault(number({ min: 0, max: 10 }), defaults.weightDecay),
    /** 0 disables clipping. */
    maxGradNorm: withDefault(number({ min: 0, max: 1e6 }), 1),
    seed: withDefault(number({ integer: true, min: 0, max: 0xffffffff }), 0),
    /** Rows are padded (or packed) to this; absent: the longest row, capped by the model. */
    maxSeqLen: optional(positiveInt(1 << 20)),
    /** Evaluate on the held-out split every this many steps (0: only at the end). */
    evalEvery: withDefault(nonNegativeInt(1_000_000), 0),
  };
}

export const trainHyperparametersSchema = object({
  ...optimisation({ steps: 200, batchSize: 8, lr: 1e-3, warmupSteps: 10, minLr: 0, weightDecay: 0 }),
  lora: nested(loraSchema),
});
export type TrainHyperparameters = Infer<typeof trainHyperparametersSchema>;

export const pretrainHyperparametersSchema = object({
  ...optimisation({ steps: 1000, batchSize: 16, lr: 1e-3, warmupSteps: 50, minLr: 1e-4, weightDecay: 0.01 }),
  /** Pack documents into rows of maxSeqLen (needs maxSeqLen). */
  packing: withDefault(boolean(), false),
});
export type PretrainHyperparameters = Infer<typeof pretrainHyperparametersSchema>;

/** The fully defaulted hyperparameters of each training kind (what an empty object resolves to). */
export const TRAIN_HYPERPARAMETER_DEFAULTS: TrainHyperparameters = defaultsOf(trainHyperparametersSchema);
export const PRETRAIN_HYPERPARAMETER_DEFAULTS: PretrainHyperparameters = defaultsOf(pretrainHyperparametersSchema);

function defaultsOf<T>(schema: { check(value: unknown, path: string, issues: { path: string; message: string }[]): T | undefined }): T {
  const issues: { path: string; message: string }[] = [];
  const out = schema.check({}, '', issues);
  // A default that fails its own schema is a programming error in this file.
  if (out === undefined || issues.length > 0) throw new Error(`job-contracts: defaults do not validate: ${JSON.stringify(issues)}`);
  return Object.freeze(out);
}
