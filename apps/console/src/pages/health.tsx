import { useSession } from '../auth/session';
import { ErrorAlert, Loading, PageHeader, Panel, StatusBadge } from '../components/feedback';
import { JOB_STATUSES, QUEUE_COUNT_STATES, type JobStatus, type QueueCountState, type QueuesHealth } from '../api/types';
import { formatBytes, formatDate } from '../lib/format';
import { useAsync } from '../lib/use-async';

/** System health: the registry's readiness, the job queue by status, BullMQ queues and workers, the router and its adapter cache. */
export function HealthPage() {
  const { client } = useSession();
  const ready = useAsync(() => client.readiness(), [client]);
  const queue = useAsync(async () => {
    const counts = await Promise.all(JOB_STATUSES.map(async (status) => [status, (await client.jobs({ status, limit: 200 })).items.length] as const));
    return new Map<JobStatus, number>(counts);
  }, [client]);
  const router = useAsync(async () => {
    const readiness = await client.routerReady();
    const cache = readiness.ok ? await client.routerCache() : undefined;
    return { readiness, cache };
  }, [client]);
  const queues = useAsync(() => client.queuesHealth(), [client]);

  return (
    <>
      <PageHeader title="System health" description="Registry dependencies, the job queue and the router's adapter cache." />
      <div className="grid-2">
        <Panel title="Registry">
          {ready.loading && <Loading />}
          {ready.error !== undefined && <ErrorAlert error={ready.error} />}
          {ready.data && (
            <ul className="checks">
              <li>
                <span>Overall</span> <StatusBadge status={ready.data.status} />
              </li>
              {Object.entries(ready.data.checks).map(([name, check]) => (
                <li key={name}>
                  <span>{name}</span> <StatusBadge status={check.ok ? 'ok' : 'down'} />
                  {check.error && <span className="muted"> {check.error}</span>}
                </li>
              ))}
            </ul>
          )}
        </Panel>
        <Panel title="Job queue">
          {queue.loading && <Loading />}
          {queue.error !== undefined && <ErrorAlert error={queue.error} title="The job queue is not available" />}
          {queue.data && (
            <ul className="checks" aria-label="Jobs by status">
              {JOB_STATUSES.map((status) => (
                <li key={status}>
                  <StatusBadge status={status} /> <strong>{queue.data!.get(status) === 200 ? '200+' : queue.data!.get(status)}</strong>
                </li>
              ))}
            </ul>
          )}
          <p className="muted">Running jobs are the workers' current work: each worker runs one job at a time.</p>
        </Panel>
      </div>
      <Panel title="Queues and workers">
        {queues.loading && <Loading />}
        {queues.error !== undefined && <ErrorAlert error={queues.error} title="Queue health is not available" />}
        {queues.data && <QueuesAndWorkers health={queues.data} />}
      </Panel>
      <Panel title="Router">
        {router.loading && <Loading />}
        {router.data && (
          <p>
            <StatusBadge status={router.data.readiness.ok ? 'ready' : 'not_ready'} /> <span className="muted">{router.data.readiness.ok ? 'The router answers and its default model is loaded.' : router.data.readiness.detail}</span>
          </p>
        )}
        {router.data?.cache && (
          <>
            <p>
              Adapter cache: {formatBytes(router.data.cache.bytes)} of {formatBytes(router.data.cache.budget_bytes)} ({router.data.cache.data.length} adapters)
            </p>
            <div className="meter" role="meter" aria-label="Adapter cache use" aria-valuemin={0} aria-valuemax={router.data.cache.budget_bytes} aria-valuenow={router.data.cache.bytes}>
              <span style={{ width: `${Math.min(100, (router.data.cache.bytes / Math.max(1, router.data.cache.budget_bytes)) * 100)}%` }} />
            </div>
            <div className="table-scroll">
              <table className="data-table data-table-compact">
                <caption className="visually-hidden">Adapters in the router's cache</caption>
                <thead>
                  <tr>
                    <th scope="col">Adapter</th>
                    <th scope="col">Size</th>
                    <th scope="col">Hits</th>
                    <th scope="col">Load</th>
                    <th scope="col">Pinned</th>
                    <th scope="col" className="hide-narrow">
                      Last use
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {router.data.cache.data.map((e) => (
                    <tr key={e.key}>
                      <td>{e.key}</td>
                      <td>{formatBytes(e.bytes)}</td>
                      <td>{e.hits ?? '—'}</td>
                      <td>{e.loadMs === undefined ? '—' : `${e.loadMs.toFixed(1)} ms`}</td>
                      <td>{e.pinned ? 'yes' : 'no'}</td>
                      <td className="hide-narrow">{e.lastUsedAt === undefined ? '—' : formatDate(String(e.lastUsedAt))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </Panel>
    </>
  );
}

/** States that matter less day to day: hidden at phone width so the table fits. */
const SECONDARY_STATES: ReadonlySet<QueueCountState> = new Set(['prioritized', 'waiting-children', 'paused']);

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** BullMQ's view: job counts by state per queue and the workers connected to each queue. */
function QueuesAndWorkers({ health }: { health: QueuesHealth }) {
  if (health.redis === 'unconfigured') return <p className="muted">The registry has no REDIS_URL: there are no job queues to show.</p>;
  if (health.redis === 'unavailable')
    return (
      <p>
        <StatusBadge status="down" /> <span className="muted">Redis is unavailable{health.error ? `: ${health.error}` : ''}</span>
      </p>
    );
  const workers = health.queues.flatMap((q) => q.workers.map((w) => ({ ...w, kind: q.kind })));
  return (
    <>
      <div className="table-scroll">
        <table className="data-table data-table-compact">
          <caption className="visually-hidden">Jobs per queue by state</caption>
          <thead>
            <tr>
              <th scope="col">Queue</th>
              {QUEUE_COUNT_STATES.map((state) => (
                <th scope="col" key={state} className={SECONDARY_STATES.has(state) ? 'hide-narrow' : undefined}>
                  {state.replace('-', ' ')}
                </th>
              ))}
              <th scope="col">Workers</th>
            </tr>
          </thead>
          <tbody>
            {health.queues.map((q) => (
              <tr key={q.queue}>
                <th scope="row" title={q.queue}>
                  {q.kind}
                </th>
                {QUEUE_COUNT_STATES.map((state) => (
                  <td key={state} className={SECONDARY_STATES.has(state) ? 'hide-narrow' : undefined}>
                    {q.counts[state]}
                  </td>
                ))}
                <td>{q.workers.length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>Connected workers</h3>
      {workers.length === 0 ? (
        <p className="muted">No worker is connected to any queue: queued jobs will wait.</p>
      ) : (
        <ul className="checks" aria-label="Connected workers">
          {workers.map((w) => (
            <li key={`${w.kind}-${w.addr}-${w.name}`}>
              <strong>{w.name}</strong> <span className="muted">on {w.kind}, {w.addr}, connected {formatSeconds(w.ageSeconds)}, idle {formatSeconds(w.idleSeconds)}</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
