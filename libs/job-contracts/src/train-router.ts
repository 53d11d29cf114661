/**
 * The `train-router` job (issue #5): trains a learned router over registered LoRA experts of one
 * base (peft-core routing/: MeteoRA gates, FlyLoRA, X-Cross fusion) and returns it as a "router"
 * artifact (artifacts.ts) that the registry stores and apps/router serves by name.
 *
 * Training data, chosen per job:
 * - `world`: the evaluation world's tasks, expert i ↔ worldTasks[i] (examples generated from each
 *   task's train split; the eval split, same seed as the evaluate job's, is never used); MeteoRA may
 *   add composite prompts chaining 2–3 of the experts' tasks, every token labelled with its line's task.
 * - `dataset`: a JSONL blob of {"prompt", "completion", "task"} records, `task` = the expert's
 *   index (0-based) or its adapter name: the per-example task label MeteoRA's gate loss needs
 *   (FlyLoRA trains one adapter per task on its records; X-Cross trains on all of them).
 *
 * Like transfer.ts, nothing is imported from payloads.ts (which imports this file).
 */
import { adapterFilesSchema, modelFilesSchema, sha256Schema } from './blobs';
import type { ArtifactResult } from './artifacts';
import { arrayOf, boolean, number, nested, object, oneOf, optional, required, string, withDefault, type Infer } from './validation';

export const ROUTER_STRATEGIES = ['meteora', 'flylora', 'xcross'] as const;
export type RouterStrategy = (typeof ROUTER_STRATEGIES)[number];

/** Experts a router may mix (MeteoRA's dense expert GEMM and X-Cross's n streams grow with it). */
export const MAX_ROUTER_EXPERTS = 16;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const WORLD_TASK_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export const trainRouterHyperparametersSchema = object({
  /** Optimizer steps (FlyLoRA: per source task). */
  steps: withDefault(number({ integer: true, min: 1, max: 100_000 }), 200),
  lr: withDefault(number({ greaterThan: 0, max: 10 }), 2e-2),
  warmupSteps: withDefault(number({ integer: true, min: 0, max: 100_000 }), 0),
  batchSize: withDefault(number({ integer: true, min: 1, max: 1024 }), 16),
  seed: withDefault(number({ integer: true, min: 0, max: 0xffffffff }), 1),
  /**
   * MeteoRA: experts mixed per token (≤ experts), softmax temperature, λ of the gate loss. Top-1
   * by default: with top-2, the softmax halves each expert wherever a gate is unsure, which broke
   * answers every expert alone gets right (tools/eval-routing/README.md).
   */
  topK: withDefault(number({ integer: true, min: 1, max: MAX_ROUTER_EXPERTS }), 1),
  temperature: withDefault(number({ greaterThan: 0, max: 100 }), 1),
  auxLossWeight: withDefault(number({ min: 0, max: 10_000 }), 50),
  /** MeteoRA: gates also see the prompt's tokens and those generated so far (peft-core meteora-wiring `prefix`). */
  prefixGate: withDefault(boolean(), true),
  /**
   * MeteoRA: what the prefix feature holds. sequence: the prompt and what came before; line: one
   * question line, the one answer line k answers (numbered-list prompts; peft-core meteora-prefix.ts).
   */
  prefixScope: withDefault(oneOf(['sequence', 'line'] as const), 'sequence'),
  /** FlyLoRA: rank, ranks kept per token (≤ rank), α; the reference setting is 32 / 8 / 64. */
  flyRank: withDefault(number({ integer: true, min: 1, max: 1024 }), 32),
  flyTopK: withDefault(number({ integer: true, min: 1, max: 1024 }), 8),
  flyAlpha: withDefault(number({ greaterThan: 0, max: 100_000 }), 64),
  /** X-Cross: the fixed β (direct) and γ (interaction) weights. */
  beta: withDefault(number({ min: -100, max: 100 }), 1),
  gamma: withDefault(number({ min: -100, max: 100 }), 1),
});
export type TrainRouterHyperparameters = Infer<typeof trainRouterHyperparametersSchema>;

export const trainRouterDataSchema = object({
  source: required(oneOf(['world', 'dataset'] as const)),
  /** world: the task of each expert, in expert order. */
  worldTasks: optional(arrayOf(string({ pattern: WORLD_TASK_PATTERN, patternName: 'a kebab-case world task id' }), { minItems: 2, maxItems: MAX_ROUTER_EXPERTS })),
  /** world: training examples per task, drawn from the task's train split with `splitSeed`. */
  examplesPerTask: withDefault(number({ integer: true, min: 1, max: 100_000 }), 300),
  /** world, MeteoRA: composite prompts (2–3 of the experts' tasks, one per line) added to the gate data. */
  compositeExamples: withDefault(number({ integer: true, min: 0, max: 100_000 }), 0),
  splitSeed: withDefault(number({ integer: true, min: 0, max: 0xffffffff }), 0),
  /** dataset: the JSONL blob of {prompt, completion, task}. */
  sha256: optional(sha256Schema),
});
export type TrainRouterData = Infer<typeof trainRouterDataSchema>;

export const trainRouterPayloadSchema = object({
  /** Artifact name the router is registered under (a new version when it exists). */
  name: required(string({ pattern: NAME_PATTERN, patternName: 'a router name (letters, digits, . _ -, ≤ 128)' })),
  strategy: required(oneOf(ROUTER_STRATEGIES)),
  baseModel: required(
    object({
      /** Recorded in the artifact's manifest. */
      name: required(string({ minLength: 1, maxLength: 200 })),
      files: required(modelFilesSchema),
    }),
  ),
  experts: required(
    arrayOf(
      object({
        /** `name@vN` as the registry resolved it: the manifest names experts this way. */
        ref: required(string({ pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}@v\d+$/, patternName: 'an adapter version reference name@vN' })),
        files: required(adapterFilesSchema),
      }),
      { minItems: 2, maxItems: MAX_ROUTER_EXPERTS },
    ),
  ),
  data: required(trainRouterDataSchema),
  hyperparameters: nested(trainRouterHyperparametersSchema),
});
export type TrainRouterJobPayload = Infer<typeof trainRouterPayloadSchema>;

/**
 * Relations between fields the schema cannot express (each a message naming the field); the
 * registry checks them at submit time (400) and the worker again before training.
 */
export function trainRouterPayloadIssues(p: TrainRouterJobPayload): string[] {
  const issues: string[] = [];
  const n = p.experts.length;
  const h = p.hyperparameters;
  if (new Set(p.experts.map((e) => e.ref.slice(0, e.ref.lastIndexOf('@')))).size !== n) issues.push('experts: the same adapter is named twice');
  if (p.strategy === 'meteora' && h.topK > n) issues.push(`hyperparameters.topK: ${h.topK} exceeds the ${n} experts`);
  if (h.prefixScope === 'line' && (p.strategy !== 'meteora' || !h.prefixGate)) issues.push('hyperparameters.prefixScope: "line" is a scope of MeteoRA\'s prefix gate (strategy "meteora", prefixGate true)');
  if (p.strategy === 'flylora' && h.flyTopK > h.flyRank) issues.push(`hyperparameters.flyTopK: ${h.flyTopK} exceeds flyRank ${h.flyRank}`);
  if (p.data.source === 'world') {
    if (p.data.worldTasks === undefined) issues.push('data.worldTasks: is required when data.source is "world"');
    else if (p.data.worldTasks.length !== n) issues.push(`data.worldTasks: ${p.data.worldTasks.length} tasks for ${n} experts (one task per expert, in expert order)`);
    if (p.data.sha256 !== undefined) issues.push('data.sha256: only with data.source "dataset"');
  } else {
    if (p.data.sha256 === undefined) issues.push('data.sha256: is required when data.source is "dataset"');
    if (p.data.worldTasks !== undefined) issues.push('data.worldTasks: only with data.source "world"');
  }
  if (p.data.compositeExamples > 0 && (p.strategy !== 'meteora' || p.data.source !== 'world')) issues.push('data.compositeExamples: composite gate data needs strategy "meteora" and data.source "world"');
  return issues;
}

/** What a train-router job returns: the router artifact and its training figures. */
export interface TrainRouterJobResult {
  readonly kind: 'train-router';
  readonly artifact: ArtifactResult;
  readonly metrics: {
    readonly strategy: RouterStrategy;
    readonly steps: number;
    readonly finalLoss?: number;
    readonly trainExamples: number;
    readonly durationSeconds: number;
    /** MeteoRA: held-out top-1 gate accuracy (mean over gated modules). */
    readonly gateAccuracy?: number;
  };
}
