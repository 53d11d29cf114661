import { PeftCoreError } from '../errors';

export interface CosineWithWarmupOptions {
  readonly baseLr: number;
  readonly warmupSteps: number;
  readonly totalSteps: number;
  /** Floor the cosine decays to. Default 0. */
  readonly minLr?: number;
}

/**
 * Learning rate for 0-based optimizer step `step`, as Hugging Face's get_cosine_schedule_with_warmup
 * (and its cosine_with_min_lr variant): linear warm-up baseLr·step/warmupSteps (so step 0 uses lr 0
 * when warmupSteps > 0), then minLr + (baseLr − minLr)·½(1 + cos(π·progress)) with
 * progress = (step − warmup)/(total − warmup), clamped to [0, 1] so steps past the end stay at minLr.
 */
export function cosineWithWarmup(options: CosineWithWarmupOptions): (step: number) => number {
  const { baseLr, warmupSteps, totalSteps } = options;
  const minLr = options.minLr ?? 0;
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0 && Number.isInteger(totalSteps) && totalSteps >= warmupSteps)) {
    throw new PeftCoreError('INVALID_ARGUMENT', `cosineWithWarmup: need integers 0 ≤ warmupSteps ≤ totalSteps, got ${warmupSteps}, ${totalSteps}`);
  }
  if (!(baseLr >= 0 && minLr >= 0 && minLr <= baseLr)) {
    throw new PeftCoreError('INVALID_ARGUMENT', `cosineWithWarmup: need 0 ≤ minLr ≤ baseLr, got ${minLr}, ${baseLr}`);
  }
  return (step: number): number => {
    if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
    const progress = Math.min(1, Math.max(0, (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps)));
    return minLr + (baseLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}
