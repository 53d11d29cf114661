/**
 * The optimisation loop shared by router training (MeteoRA gates, FlyLoRA B, X-Cross fusion): a
 * step function computes loss and gradients for step t (from a compiled graph); this loop applies
 * clipping, the cosine schedule with warm-up and AdamW, reports progress, and honours an
 * AbortSignal. It is the Trainer's loop without the single-LoRA graph and data pipeline, which the
 * routers replace with their own.
 */
import { PeftCoreError } from '../errors';
import { AdamW } from '../optim/adamw';
import { clipGradNorm } from '../optim/gradients';
import { cosineWithWarmup } from '../optim/schedule';

export interface OptimizeOptions {
  readonly steps: number;
  readonly lr: number;
  /** Default 0. */
  readonly warmupSteps?: number;
  /** Default lr / 10. */
  readonly minLr?: number;
  /** Default 0. */
  readonly weightDecay?: number;
  /** Default 1; 0 disables clipping. */
  readonly maxGradNorm?: number;
}

export interface StepOutcome {
  readonly loss: number;
  readonly grads: ReadonlyMap<string, Float32Array>;
  /** Extra scalars to report with the step (e.g. the LM and gate parts of the loss). */
  readonly metrics?: Readonly<Record<string, number>>;
}

export interface RouterProgressEvent {
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly elapsedSeconds: number;
  readonly etaSeconds: number;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface OptimizeRun {
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: RouterProgressEvent) => void;
}

export interface OptimizeResult {
  readonly status: 'completed' | 'aborted';
  readonly steps: number;
  readonly losses: readonly number[];
}

/** Runs `options.steps` AdamW updates of `params` (updated in place) with gradients from `step`. */
export async function optimize(
  params: ReadonlyMap<string, Float32Array>,
  options: OptimizeOptions,
  step: (t: number) => Promise<StepOutcome>,
  run: OptimizeRun = {},
): Promise<OptimizeResult> {
  if (!Number.isInteger(options.steps) || options.steps <= 0) throw new PeftCoreError('INVALID_ARGUMENT', `router training: steps must be a positive integer, got ${options.steps}`);
  if (!(options.lr > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `router training: lr must be positive, got ${options.lr}`);
  const schedule = cosineWithWarmup({ baseLr: options.lr, warmupSteps: options.warmupSteps ?? 0, totalSteps: options.steps, minLr: options.minLr ?? options.lr / 10 });
  const optimizer = new AdamW(params, { weightDecay: options.weightDecay ?? 0 });
  const maxGradNorm = options.maxGradNorm ?? 1;
  const losses: number[] = [];
  const started = Date.now();
  for (let t = 0; t < options.steps; t++) {
    if (run.signal?.aborted) return { status: 'aborted', steps: t, losses };
    const outcome = await step(t);
    if (!Number.isFinite(outcome.loss)) throw new PeftCoreError('TRAINING_DIVERGED', `router training diverged at step ${t + 1}: loss ${outcome.loss}`);
    const grads = new Map([...outcome.grads].map(([k, v]) => [k, Float32Array.from(v)]));
    const gradNorm = maxGradNorm > 0 ? clipGradNorm(grads, maxGradNorm) : Math.sqrt([...grads.values()].reduce((s, g) => s + g.reduce((a, x) => a + x * x, 0), 0));
    if (!Number.isFinite(gradNorm)) throw new PeftCoreError('TRAINING_DIVERGED', `router training diverged at step ${t + 1}: gradient norm ${gradNorm}`);
    const lr = schedule(t);
    optimizer.step(grads, lr);
    losses.push(outcome.loss);
    const elapsedSeconds = (Date.now() - started) / 1000;
    run.onProgress?.({
      step: t + 1,
      totalSteps: options.steps,
      loss: outcome.loss,
      lr,
      gradNorm,
      elapsedSeconds,
      etaSeconds: (elapsedSeconds / (t + 1)) * (options.steps - t - 1),
      metrics: outcome.metrics ?? {},
    });
  }
  return { status: 'completed', steps: options.steps, losses };
}
