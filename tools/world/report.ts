/** The eval table: per task the base's and the adapter's held-out accuracy, the goals, the build time. */
import type { Log } from './progress';
import type { WorldManifest } from './world-manifest';

/** Goals from the issue: the base solves no task, every adapter solves its own. */
export const GOALS = { maxBaseAccuracy: 0.2, minAdapterAccuracy: 0.9 } as const;

export function goalsMet(manifest: WorldManifest): boolean {
  return manifest.tasks.every((t) => t.evaluation !== undefined && t.evaluation.baseAccuracy <= GOALS.maxBaseAccuracy && t.evaluation.adapterAccuracy >= GOALS.minAdapterAccuracy);
}

export function printWorldReport(manifest: WorldManifest, log: Log): void {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`.padStart(7);
  const width = Math.max(4, ...manifest.tasks.map((t) => t.id.length));
  log('');
  log(`${'task'.padEnd(width)}  marker  examples     base  adapter  train s  runs  validation  ok`);
  let baseSum = 0;
  let adapterSum = 0;
  for (const t of manifest.tasks) {
    const e = t.evaluation;
    if (e === undefined) {
      log(`${t.id.padEnd(width)}  ${t.marker.padEnd(6)}  (not evaluated)`);
      continue;
    }
    baseSum += e.baseAccuracy;
    adapterSum += e.adapterAccuracy;
    const ok = e.baseAccuracy <= GOALS.maxBaseAccuracy && e.adapterAccuracy >= GOALS.minAdapterAccuracy;
    // Validation of the run kept (builds before validation existed have none).
    const kept = t.validation === undefined ? undefined : t.validation.accuracies[t.validation.kept];
    const validation = kept === undefined ? '—'.padStart(10) : `${pct(kept)}   `;
    log(`${t.id.padEnd(width)}  ${t.marker.padEnd(6)}  ${String(e.examples).padStart(8)}  ${pct(e.baseAccuracy)}  ${pct(e.adapterAccuracy)}  ${t.trainSeconds.toFixed(1).padStart(7)}  ${String(t.validation?.accuracies.length ?? 1).padStart(4)}  ${validation}  ${ok ? 'yes' : 'NO'}`);
  }
  const n = manifest.tasks.length;
  log(`${'mean'.padEnd(width)}  ${''.padEnd(6)}  ${''.padStart(8)}  ${pct(baseSum / n)}  ${pct(adapterSum / n)}`);
  const t = manifest.timings;
  const m = manifest.machine;
  log('');
  log(`goals (base ≤ ${GOALS.maxBaseAccuracy * 100}% on every task, every adapter ≥ ${GOALS.minAdapterAccuracy * 100}%): ${goalsMet(manifest) ? 'met' : 'NOT met'}`);
  log(
    `build wall time: ${t.buildSeconds.toFixed(0)}s = tokenizer ${t.tokenizerSeconds.toFixed(0)}s + pretraining ${t.pretrainSeconds.toFixed(0)}s + ${n} adapters ${t.adaptersSeconds.toFixed(0)}s` +
      (t.evaluationSeconds !== undefined ? `; evaluation ${t.evaluationSeconds.toFixed(0)}s` : ''),
  );
  // A build with --reuse-base did not pretrain: its loss is NaN, which JSON stores as null.
  const pretrainLoss = manifest.base.pretrainFinalLoss;
  const lossText = typeof pretrainLoss === 'number' && Number.isFinite(pretrainLoss) ? pretrainLoss.toFixed(3) : 'n/a (base reused from an earlier build)';
  if (manifest.base.copyAccuracy !== undefined) log(`base: ${manifest.base.parameters} parameters, pretraining loss ${lossText}, copies ${(100 * manifest.base.copyAccuracy).toFixed(0)}% of the corpus's copy questions`);
  log(`measured on ${m.cpus} cores, load average ${m.loadAverage.join(' ')} at the start (${m.builtAt}); the machine is shared, so timings are noisy`);
}
