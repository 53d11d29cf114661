/**
 * Progress lines of the seeder: one line per step of the plan and, while a job runs, one line
 * every few seconds with its phase, step/total, loss, tokens/s and ETA, e.g.
 *   [world] task 2/4 reverse-word · train   step 40/80 (50%)  loss 1.234  8,120 tok/s  ETA 25s
 */
import type { JobProgress } from '@palette/job-contracts';

export type Log = (line: string) => void;

/** Where in the plan a job sits: `pretrain`, or `task i/N <id> · <what>`. */
export interface StepLabel {
  readonly stage: string;
  readonly task?: { readonly index: number; readonly total: number; readonly id: string };
}

export function labelText(label: StepLabel): string {
  return label.task === undefined ? label.stage : `task ${label.task.index}/${label.task.total} ${label.task.id} · ${label.stage}`;
}

/** 75 → "1m15s", 3725 → "1h02m", 9 → "9s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function formatProgress(label: StepLabel, p: Partial<JobProgress>): string {
  const parts = [`${labelText(label)}`, p.phase ?? 'queued'];
  if (p.totalSteps !== undefined && p.totalSteps > 0 && p.step !== undefined) {
    const unit = p.phase === 'evaluating' ? 'examples' : 'step';
    parts.push(`${unit} ${p.step}/${p.totalSteps} (${Math.floor((100 * p.step) / p.totalSteps)}%)`);
  }
  if (typeof p.loss === 'number') parts.push(`loss ${p.loss.toFixed(4)}`);
  if (typeof p.tokensPerSecond === 'number') parts.push(`${Math.round(p.tokensPerSecond).toLocaleString('en-US')} tok/s`);
  if (typeof p.etaSeconds === 'number') parts.push(`ETA ${formatDuration(p.etaSeconds)}`);
  if (p.resumedFromStep !== undefined) parts.push(`(resumed at step ${p.resumedFromStep})`);
  return parts.join('  ');
}

/**
 * Drops progress lines that come faster than `everyMs` (the worker reports every ~2 s; a full
 * build is 30+ jobs), but always lets a change of phase through.
 */
export class ProgressThrottle {
  private lastAt = -Infinity;
  private lastPhase: string | undefined;

  constructor(
    private readonly everyMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  shouldPrint(phase: string | undefined): boolean {
    const t = this.now();
    if (phase !== this.lastPhase || t - this.lastAt >= this.everyMs) {
      this.lastAt = t;
      this.lastPhase = phase;
      return true;
    }
    return false;
  }
}
