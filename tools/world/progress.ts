/** Progress lines for long training runs: about ten lines per run, plus the last step. */
import type { ProgressEvent } from '@palette/peft-core';

export type Log = (line: string) => void;

export function trainingProgress(label: string, log: Log, linesPerRun = 10): (event: ProgressEvent) => void {
  return (e) => {
    const every = Math.max(1, Math.floor(e.totalSteps / linesPerRun));
    if (e.step % every !== 0 && e.step !== e.totalSteps) return;
    log(
      `  ${label} step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ` +
        `${Math.round(e.tokensPerSecond)} tok/s  ${e.elapsedSeconds.toFixed(0)}s elapsed, ETA ${e.etaSeconds.toFixed(0)}s`,
    );
  };
}

export function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}
