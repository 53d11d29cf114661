import { useEffect, useState } from 'react';
import { Link, useParams } from 'react-router';
import { FINAL_JOB_STATUSES, type JobDetail, type JobMetricPoint, type JobProgress, type JobStatus } from '../api/types';
import { isRecord } from '../api/http';
import { useSession } from '../auth/session';
import { ErrorAlert, Loading, PageHeader, Panel, StatusBadge } from '../components/feedback';
import { RegisteredLink, summariseRecord } from '../components/job-registration';
import { LineChart } from '../components/line-chart';
import { formatDate, formatDuration, formatNumber, formatValue, humanizeKey } from '../lib/format';
import { useAsync } from '../lib/use-async';
import { jobPercent, ProgressBar } from './jobs';

const LOG_POLL_MS = 2000;
const TRAINING_KINDS = new Set(['train', 'pretrain', 'transfer', 'train-router', 'train-retriever']);
const FINAL_EVENTS: Readonly<Record<string, JobStatus>> = { completed: 'succeeded', failed: 'failed', cancelled: 'cancelled' };

/**
 * One job, live: the registry's SSE stream (`state`, `progress`…, then a final event) drives the
 * progress bar and the loss curve; the final event brings the finished row with its result.
 */
function isFinal(status: JobStatus): boolean {
  return FINAL_JOB_STATUSES.includes(status);
}

export function JobDetailPage() {
  const { id = '' } = useParams();
  const { client, me } = useSession();
  const initial = useAsync(() => client.job(id), [client, id]);
  const [job, setJob] = useState<JobDetail | undefined>();
  const [live, setLive] = useState<JobMetricPoint[]>([]);
  const [streamError, setStreamError] = useState<unknown>();
  const [actionError, setActionError] = useState<unknown>();
  const [generation, setGeneration] = useState(0);

  // A finished job never goes back to an unfinished row read earlier (only a retry, below, does).
  useEffect(() => setJob((j) => (j !== undefined && isFinal(j.status) && initial.data !== undefined && !isFinal(initial.data.status) ? j : initial.data)), [initial.data]);
  const status = job?.status;
  const finished = status !== undefined && isFinal(status);

  // Follow the job's events while it is not finished (again after a retry: `generation`).
  useEffect(() => {
    if (status === undefined || finished) return;
    const controller = new AbortController();
    setStreamError(undefined);
    client
      .followJob(
        id,
        (event) => {
          const data: unknown = JSON.parse(event.data);
          if (event.event === 'progress' && isRecord(data)) {
            const progress = data as JobProgress;
            setJob((j) => (j ? { ...j, status: 'running', progress } : j));
            if (typeof progress.step === 'number' && typeof progress.loss === 'number') {
              const point: JobMetricPoint = { step: progress.step, loss: progress.loss, evalLoss: progress.evalLoss ?? null, learningRate: progress.learningRate ?? null, tokensPerSecond: progress.tokensPerSecond ?? null, at: progress.updatedAt ?? '' };
              setLive((points) => [...points.filter((p) => p.step !== point.step), point]);
            }
          } else if (event.event in FINAL_EVENTS) {
            // The final event carries the finished row (result, adapter, final metrics). Setting
            // it tears this effect down, aborting the stream, so nothing after it is read.
            const row = isRecord(data) && isRecord(data.job) ? (data.job as unknown as JobDetail) : undefined;
            // A row the mirror has not finished yet would show a running job at its last step.
            setJob((j) => (row !== undefined && isFinal(row.status) ? row : j ? { ...j, status: FINAL_EVENTS[event.event]! } : j));
          }
        },
        controller.signal,
      )
      // A stream that ended without a final event (the connection dropped): read the row.
      .then(() => (controller.signal.aborted ? undefined : client.job(id).then(setJob)))
      .catch((error: unknown) => {
        if (!controller.signal.aborted) setStreamError(error);
      });
    return () => controller.abort();
  }, [client, id, status === undefined, finished, generation]);

  async function act(action: 'cancel' | 'retry') {
    setActionError(undefined);
    try {
      await (action === 'cancel' ? client.cancelJob(id) : client.retryJob(id));
      const fresh = await client.job(id);
      setJob(fresh);
      if (action === 'retry') {
        setLive([]);
        setGeneration((g) => g + 1);
      }
    } catch (error) {
      setActionError(error);
    }
  }

  if (initial.loading && job === undefined) return <Loading label="Loading job…" />;
  if (initial.error !== undefined) return <ErrorAlert error={initial.error} title={`Could not load job ${id}`} />;
  if (job === undefined) return null;

  const history = mergeHistory(job.metricHistory, live);
  const p = job.progress;
  // The final progress update (phase completed) carries no loss: show the last one measured.
  const lastLoss = p.loss ?? history.findLast((m) => m.loss !== null)?.loss ?? null;
  const lastEvalLoss = p.evalLoss ?? history.findLast((m) => m.evalLoss !== null)?.evalLoss ?? null;
  const canWrite = me.role !== 'reader';
  // Loss and throughput mean something for kinds that train; an evaluation reports neither.
  const training = TRAINING_KINDS.has(job.kind) || history.length > 0;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/jobs">Jobs</Link> <span aria-hidden="true">/</span> <span aria-current="page">{job.id}</span>
      </nav>
      <PageHeader
        title={`Job ${job.id}`}
        description={`${job.kind} on ${job.baseModel ?? '—'} → ${summariseRecord(job.registration ?? (job.adapter ? { adapter: job.adapter } : null), 3)}`}
        actions={
          canWrite && (
            <>
              {!finished && (
                <button type="button" className="button button-danger" onClick={() => act('cancel')} disabled={job.cancelRequestedAt !== null}>
                  {job.cancelRequestedAt ? 'Cancelling…' : 'Cancel job'}
                </button>
              )}
              {(job.status === 'failed' || job.status === 'cancelled') && (
                <button type="button" className="button button-primary" onClick={() => act('retry')}>
                  Retry job
                </button>
              )}
            </>
          )
        }
      />
      {actionError !== undefined && <ErrorAlert error={actionError} />}
      {streamError !== undefined && <ErrorAlert error={streamError} title="Live updates stopped" />}
      <Panel title="Progress">
        <div className="job-status" aria-live="polite">
          <StatusBadge status={job.status} />
          <span>
            {p.phase ?? 'waiting'} · step {p.step ?? 0} of {p.totalSteps ?? '?'}
          </span>
        </div>
        <ProgressBar percent={jobPercent(job)} label="Job progress" />
        <dl className="facts facts-compact">
          {training && (
            <>
              <div>
                <dt>Loss</dt>
                <dd>{formatNumber(lastLoss)}</dd>
              </div>
              <div>
                <dt>Eval loss</dt>
                <dd>{formatNumber(lastEvalLoss)}</dd>
              </div>
              <div>
                <dt>Tokens/s</dt>
                <dd>{formatNumber(p.tokensPerSecond, 0)}</dd>
              </div>
            </>
          )}
          <div>
            <dt>ETA</dt>
            <dd>{finished ? '—' : formatDuration(p.etaSeconds)}</dd>
          </div>
          <div>
            <dt>Attempts</dt>
            <dd>{job.attempts}</dd>
          </div>
          <div>
            <dt>Registered</dt>
            <dd data-testid="job-registered">
              {job.registered ? (
                <RegisteredLink registered={job.registered} job={job} />
              ) : job.adapterVersion ? (
                <Link to={`/adapters/${encodeURIComponent(job.adapterVersion.split('@')[0]!)}`}>{job.adapterVersion}</Link>
              ) : (
                '—'
              )}
            </dd>
          </div>
        </dl>
        {isRecord(job.registered) && isRecord(job.registered.details) && (
          <dl className="facts facts-compact" aria-label="Registered result">
            {Object.entries(job.registered.details).map(([k, v]) => (
              <div key={k}>
                <dt>{humanizeKey(k)}</dt>
                <dd>{formatValue(k, v)}</dd>
              </div>
            ))}
          </dl>
        )}
        <ExtraProgress progress={p} />
        {job.error && (
          <div className="alert alert-error" role="alert">
            <strong>Error</strong>
            <p>{job.error}</p>
          </div>
        )}
      </Panel>
      {training && (
      <Panel title="Loss curve">
        <LineChart
          title={`Training loss of job ${job.id}`}
          xLabel="step"
          yLabel="loss"
          series={[
            { name: 'train loss', points: history.filter((m) => m.loss !== null).map((m) => ({ x: m.step, y: m.loss! })) },
            { name: 'eval loss', points: history.filter((m) => m.evalLoss !== null).map((m) => ({ x: m.step, y: m.evalLoss! })) },
          ].filter((s) => s.points.length > 0)}
        />
      </Panel>
      )}
      <JobLogsPanel id={job.id} live={!finished} />
      <Panel title="Details">
        <dl className="facts facts-compact">
          <div>
            <dt>Submitted</dt>
            <dd>{formatDate(job.createdAt)}</dd>
          </div>
          <div>
            <dt>Started</dt>
            <dd>{formatDate(job.startedAt)}</dd>
          </div>
          <div>
            <dt>Finished</dt>
            <dd>{formatDate(job.finishedAt)}</dd>
          </div>
          <div>
            <dt>Result registered</dt>
            <dd>{formatDate(job.registeredAt)}</dd>
          </div>
        </dl>
        {job.registration !== undefined && job.registration !== null && (
          <>
            <h3>Registration</h3>
            <p className="muted">What the result will be registered as.</p>
            <pre className="code-block code-block-short" tabIndex={0} aria-label="Job registration">
              {JSON.stringify(job.registration, null, 2)}
            </pre>
          </>
        )}
        <h3 className="spaced">Payload</h3>
        <pre className="code-block" tabIndex={0} aria-label="Job payload">
          {JSON.stringify(job.payload, null, 2)}
        </pre>
      </Panel>
    </>
  );
}

function mergeHistory(stored: readonly JobMetricPoint[], live: readonly JobMetricPoint[]): JobMetricPoint[] {
  const byStep = new Map<number, JobMetricPoint>();
  for (const point of [...stored, ...live]) byStep.set(point.step, point);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

function JobLogsPanel({ id, live }: { id: string; live: boolean }) {
  const { client } = useSession();
  const logs = useAsync(() => client.jobLogs(id, 0, 500), [client, id]);
  const reload = logs.reload;
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(reload, LOG_POLL_MS);
    return () => clearInterval(timer);
  }, [live, reload]);
  // One last read when the job finishes, for the final lines.
  useEffect(() => {
    if (!live) reload();
  }, [live, reload]);
  return (
    <Panel title="Logs">
      {logs.error !== undefined && <ErrorAlert error={logs.error} />}
      {logs.data && logs.data.lines.length === 0 && <p className="empty">No log lines yet.</p>}
      {logs.data && logs.data.lines.length > 0 && (
        <ol className="logs" tabIndex={0} aria-label={`Log of job ${id}, ${logs.data.total} lines`}>
          {logs.data.lines.map((line, i) => (
            <li key={i} className={`log-${line.level}`}>
              <time dateTime={line.time}>{new Date(line.time).toLocaleTimeString()}</time> <span className="log-level">{line.level}</span> {line.message}
            </li>
          ))}
        </ol>
      )}
    </Panel>
  );
}

/** Progress fields shown above (or internal) — everything else a kind reports is listed generically. */
const SHOWN_PROGRESS = new Set(['phase', 'step', 'totalSteps', 'loss', 'evalLoss', 'learningRate', 'tokensPerSecond', 'etaSeconds', 'updatedAt', 'checkpoint']);

/**
 * Whatever else the job's progress carries (a transfer's phase, acceptance rate and counts, a
 * resumed step…): nested objects become a labelled group, and one with numeric `done`/`total`
 * gets its own progress bar.
 */
function ExtraProgress({ progress }: { progress: JobProgress }) {
  const entries = Object.entries(progress).filter(([key, value]) => !SHOWN_PROGRESS.has(key) && value !== null && value !== undefined);
  if (entries.length === 0) return null;
  return (
    <div className="extra-progress" data-testid="extra-progress">
      {entries.map(([key, value]) =>
        isRecord(value) ? (
          <section key={key} aria-label={`${humanizeKey(key)} progress`}>
            <h3>
              {humanizeKey(key)}
              {typeof value.phase === 'string' ? ` · ${value.phase}` : ''}
            </h3>
            {typeof value.done === 'number' && typeof value.total === 'number' && value.total > 0 && (
              <ProgressBar percent={Math.min(100, Math.round((value.done / value.total) * 100))} label={`${humanizeKey(key)} progress`} />
            )}
            <dl className="facts facts-compact">
              {Object.entries(value)
                .filter(([k, v]) => k !== 'phase' && v !== null && v !== undefined)
                .map(([k, v]) => (
                  <div key={k}>
                    <dt>{humanizeKey(k)}</dt>
                    <dd>{formatValue(k, v)}</dd>
                  </div>
                ))}
            </dl>
          </section>
        ) : (
          <dl className="facts facts-compact" key={key}>
            <div>
              <dt>{humanizeKey(key)}</dt>
              <dd>{formatValue(key, value)}</dd>
            </div>
          </dl>
        ),
      )}
    </div>
  );
}
