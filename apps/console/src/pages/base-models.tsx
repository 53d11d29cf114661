import { Link } from 'react-router';
import { isRecord } from '../api/http';
import { useSession } from '../auth/session';
import { evaluationsOf } from '../components/metrics';
import { Empty, ErrorAlert, Loading, PageHeader } from '../components/feedback';
import { formatBytes, formatCount, formatDate, formatNumber } from '../lib/format';
import { useAsync } from '../lib/use-async';

export function BaseModelsPage() {
  const { client } = useSession();
  const models = useAsync(() => client.baseModels(), [client]);
  return (
    <>
      <PageHeader title="Base models" description="The models adapters are built on, with the architecture facts read at registration, how they were pretrained and their baseline evaluations." />
      {models.loading && <Loading label="Loading base models…" />}
      {models.error !== undefined && <ErrorAlert error={models.error} title="Could not load base models" />}
      {models.data?.length === 0 && <Empty>No base models registered yet.</Empty>}
      <div className="cards">
        {models.data?.map((m) => (
          <article className="card" key={m.id} aria-labelledby={`model-${m.id}`}>
            <h2 id={`model-${m.id}`}>
              <Link to={`/base-models/${encodeURIComponent(m.name)}`}>{m.name}</Link>
            </h2>
            <p className="muted">
              {m.summary.family} · {formatCount(m.summary.parameters)} parameters · {m.summary.dtype}
            </p>
            <dl className="facts facts-compact">
              <div>
                <dt>Layers</dt>
                <dd>{m.summary.layers}</dd>
              </div>
              <div>
                <dt>Hidden</dt>
                <dd>{m.summary.hiddenSize}</dd>
              </div>
              <div>
                <dt>Heads / KV</dt>
                <dd>
                  {m.summary.heads} / {m.summary.kvHeads}
                </dd>
              </div>
              <div>
                <dt>Vocabulary</dt>
                <dd>{m.summary.vocabSize}</dd>
              </div>
              <div>
                <dt>Context</dt>
                <dd>{m.summary.contextLength}</dd>
              </div>
              <div>
                <dt>Files</dt>
                <dd>
                  {m.summary.files} ({formatBytes(m.summary.totalBytes)})
                </dd>
              </div>
            </dl>
            <ModelMetricsLine metrics={m.metrics} />
            <p>
              <Link to={`/adapters?baseModel=${encodeURIComponent(m.name)}`}>
                {m.adapterCount} adapter{m.adapterCount === 1 ? '' : 's'}
              </Link>{' '}
              <span className="muted">· registered {formatDate(m.createdAt)}</span>
            </p>
          </article>
        ))}
      </div>
    </>
  );
}

/** One line on the card: pretrained from what, and how many baseline evaluations it has. */
function ModelMetricsLine({ metrics }: { metrics: unknown }) {
  const pretraining = isRecord(metrics) && isRecord(metrics.pretraining) ? metrics.pretraining : undefined;
  const evaluations = evaluationsOf(metrics).length;
  if (!pretraining && evaluations === 0) return null;
  return (
    <p className="muted">
      {pretraining && `pretrained from ${String(pretraining.initialBase ?? '?')}${typeof pretraining.finalLoss === 'number' ? `, final loss ${formatNumber(pretraining.finalLoss, 3)}` : ''}`}
      {pretraining && evaluations > 0 && ' · '}
      {evaluations > 0 && `${evaluations} baseline evaluation${evaluations === 1 ? '' : 's'}`}
    </p>
  );
}
