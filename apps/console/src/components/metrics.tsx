import { Link } from 'react-router';
import { isRecord } from '../api/http';
import type { TaskEvaluation } from '../api/types';
import { formatDate, formatPercent, formatValue, humanizeKey } from '../lib/format';

/**
 * Metrics the registry records on adapter versions and base models (`metrics` JSON): evaluations
 * per world task from `evaluate` jobs, training / pretraining / transfer figures from the jobs that
 * built them. Their shape belongs to the jobs that write them, so anything unknown is still shown.
 */

/** metrics.evaluations as a list, tasks sorted by name; entries that are not objects are skipped. */
export function evaluationsOf(metrics: unknown): [string, TaskEvaluation][] {
  const evaluations = isRecord(metrics) && isRecord(metrics.evaluations) ? metrics.evaluations : {};
  return Object.entries(evaluations)
    .filter((entry): entry is [string, Record<string, unknown>] => isRecord(entry[1]))
    .map(([task, e]) => [task, e as unknown as TaskEvaluation] as [string, TaskEvaluation])
    .sort(([a], [b]) => a.localeCompare(b));
}

/** Accuracy per world task, with the base model's own (baseline) accuracy and the difference when known. */
export function EvaluationsTable({ evaluations, baseline, caption }: { evaluations: readonly [string, TaskEvaluation][]; baseline?: readonly [string, TaskEvaluation][]; caption: string }) {
  const baseByTask = new Map(baseline ?? []);
  const showBase = baseline !== undefined;
  return (
    <div className="table-scroll">
      <table className="data-table data-table-compact">
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">World task</th>
            <th scope="col">Accuracy</th>
            {showBase && <th scope="col">Base alone</th>}
            <th scope="col" className="hide-narrow">
              Correct
            </th>
            <th scope="col" className="hide-narrow">
              Split seed
            </th>
            <th scope="col" className="hide-narrow">
              Evaluated
            </th>
          </tr>
        </thead>
        <tbody>
          {evaluations.map(([task, e]) => {
            const base = baseByTask.get(task);
            const delta = base?.accuracy !== undefined && base.accuracy !== null && e.accuracy !== null ? e.accuracy - base.accuracy : undefined;
            return (
              <tr key={task}>
                <th scope="row">
                  <code>{task}</code>
                </th>
                <td>
                  <AccuracyBar accuracy={e.accuracy} />
                </td>
                {showBase && (
                  <td>
                    {base ? formatPercent(base.accuracy) : <span className="muted">not evaluated</span>}
                    {delta !== undefined && <span className={`delta ${delta >= 0 ? 'delta-up' : 'delta-down'}`}> {`${delta >= 0 ? '+' : '−'}${(Math.abs(delta) * 100).toFixed(1)} pt`}</span>}
                  </td>
                )}
                <td className="hide-narrow">{e.correct !== undefined && e.examples !== undefined ? `${e.correct} / ${e.examples}` : '—'}</td>
                <td className="hide-narrow">{e.splitSeed ?? '—'}</td>
                <td className="hide-narrow">
                  {formatDate(e.evaluatedAt)}
                  {e.jobId && (
                    <>
                      {' · '}
                      <Link to={`/jobs/${encodeURIComponent(e.jobId)}`}>job</Link>
                    </>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function AccuracyBar({ accuracy }: { accuracy: number | null | undefined }) {
  const share = typeof accuracy === 'number' && Number.isFinite(accuracy) ? Math.max(0, Math.min(1, accuracy)) : 0;
  return (
    <span className="score">
      <span className="score-bar" aria-hidden="true">
        <span style={{ width: `${Math.round(share * 100)}%` }} />
      </span>
      <span className="score-value">{formatPercent(accuracy)}</span>
    </span>
  );
}

/**
 * The other metric groups (`training`, `pretraining`, `transfer`, …) as headed fact lists, and
 * top-level scalars (`evalLoss`) in one list. `skip` names keys shown elsewhere.
 */
export function MetricGroups({ metrics, skip = [] }: { metrics: unknown; skip?: readonly string[] }) {
  if (!isRecord(metrics)) return null;
  const entries = Object.entries(metrics).filter(([key, value]) => !skip.includes(key) && value !== null && value !== undefined);
  const scalars = entries.filter(([, v]) => !isRecord(v));
  const groups = entries.filter((e): e is [string, Record<string, unknown>] => isRecord(e[1]));
  if (entries.length === 0) return null;
  return (
    <div className="metric-groups">
      {scalars.length > 0 && <Facts entries={scalars} label="Metrics" />}
      {groups.map(([key, group]) => (
        <section key={key} aria-label={humanizeKey(key)}>
          <h3>{humanizeKey(key)}</h3>
          <Facts entries={Object.entries(group).filter(([, v]) => v !== null && v !== undefined)} label={humanizeKey(key)} />
        </section>
      ))}
    </div>
  );
}

function Facts({ entries, label }: { entries: readonly [string, unknown][]; label: string }) {
  return (
    <dl className="facts facts-compact" aria-label={label}>
      {entries.map(([key, value]) => (
        <div key={key}>
          <dt>{humanizeKey(key)}</dt>
          <dd>{key === 'job' && typeof value === 'string' ? <Link to={`/jobs/${encodeURIComponent(value)}`}>{value}</Link> : formatValue(key, value)}</dd>
        </div>
      ))}
    </dl>
  );
}
