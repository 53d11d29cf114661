import { Link } from 'react-router';
import { useSession } from '../auth/session';
import { Empty, ErrorAlert, Loading, PageHeader } from '../components/feedback';
import { formatBytes, formatCount, formatDate } from '../lib/format';
import { useAsync } from '../lib/use-async';

export function BaseModelsPage() {
  const { client } = useSession();
  const models = useAsync(() => client.baseModels(), [client]);
  return (
    <>
      <PageHeader title="Base models" description="The models adapters are built on, with the architecture facts read at registration." />
      {models.loading && <Loading label="Loading base models…" />}
      {models.error !== undefined && <ErrorAlert error={models.error} title="Could not load base models" />}
      {models.data?.length === 0 && <Empty>No base models registered yet.</Empty>}
      <div className="cards">
        {models.data?.map((m) => (
          <article className="card" key={m.id} aria-labelledby={`model-${m.id}`}>
            <h2 id={`model-${m.id}`}>{m.name}</h2>
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
