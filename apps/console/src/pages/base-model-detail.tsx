import { Link, useParams } from 'react-router';
import { isRecord } from '../api/http';
import { useSession } from '../auth/session';
import { Empty, ErrorAlert, Loading, PageHeader, Panel } from '../components/feedback';
import { EvaluationsTable, evaluationsOf, MetricGroups } from '../components/metrics';
import { formatBytes, formatCount, formatDate, shortHash } from '../lib/format';
import { useAsync } from '../lib/use-async';

/**
 * One base model: architecture, how it was pretrained (metrics.pretraining, when a pretrain job
 * built it), its baseline accuracy per world task (evaluate jobs without an adapter), its files,
 * and the routers and retrievers built for it.
 */
export function BaseModelDetailPage() {
  const { name = '' } = useParams();
  const { client, me } = useSession();
  const model = useAsync(() => client.baseModel(name), [client, name]);
  const artifacts = useAsync(() => client.artifacts({ baseModel: name, limit: 50 }), [client, name]);

  if (model.loading && model.data === undefined) return <Loading label="Loading base model…" />;
  if (model.error !== undefined) return <ErrorAlert error={model.error} title={`Could not load base model ${name}`} />;
  const m = model.data!;
  const evaluations = evaluationsOf(m.metrics);
  const pretraining = isRecord(m.metrics) && isRecord(m.metrics.pretraining) ? m.metrics.pretraining : undefined;
  const initialBase = typeof pretraining?.initialBase === 'string' ? pretraining.initialBase : undefined;
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/base-models">Base models</Link> <span aria-hidden="true">/</span> <span aria-current="page">{m.name}</span>
      </nav>
      <PageHeader
        title={m.name}
        description={`${m.summary.family} · ${formatCount(m.summary.parameters)} parameters · ${m.summary.dtype} · registered ${formatDate(m.createdAt)}`}
        actions={
          <Link className="button" to={`/adapters?baseModel=${encodeURIComponent(m.name)}`}>
            {m.adapterCount} adapter{m.adapterCount === 1 ? '' : 's'}
          </Link>
        }
      />
      <dl className="facts">
        <div>
          <dt>Layers</dt>
          <dd>{m.summary.layers}</dd>
        </div>
        <div>
          <dt>Hidden / intermediate</dt>
          <dd>
            {m.summary.hiddenSize} / {m.summary.intermediateSize}
          </dd>
        </div>
        <div>
          <dt>Heads / KV / dim</dt>
          <dd>
            {m.summary.heads} / {m.summary.kvHeads} / {m.summary.headDim}
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
          <dt>Tied embeddings</dt>
          <dd>{m.summary.tiedEmbeddings ? 'yes' : 'no'}</dd>
        </div>
      </dl>

      <Panel
        title="Baseline evaluations"
        actions={
          me.role !== 'reader' && (
            <Link className="button button-small" to={`/jobs?kind=evaluate&baseModel=${encodeURIComponent(m.name)}`}>
              Evaluate…
            </Link>
          )
        }
      >
        <p className="muted">Accuracy of the base model alone per world task: what an adapter's accuracy is compared with.</p>
        {evaluations.length === 0 ? <Empty>No baseline evaluation yet.</Empty> : <EvaluationsTable evaluations={evaluations} caption={`Baseline accuracy of ${m.name} per world task`} />}
      </Panel>

      <Panel title="Pretraining">
        {pretraining === undefined ? (
          <Empty>Registered from files, not built by a pretrain job.</Empty>
        ) : (
          <>
            {initialBase && (
              <p>
                Continued from <Link to={`/base-models/${encodeURIComponent(initialBase)}`}>{initialBase}</Link>.
              </p>
            )}
            <MetricGroups metrics={{ pretraining }} />
          </>
        )}
        <MetricGroups metrics={m.metrics} skip={['pretraining', 'evaluations']} />
      </Panel>

      <Panel title="Routers and retrievers">
        {artifacts.error !== undefined && <ErrorAlert error={artifacts.error} />}
        {artifacts.data?.items.length === 0 && <Empty>None built for this base yet.</Empty>}
        {artifacts.data && artifacts.data.items.length > 0 && (
          <ul className="neighbours">
            {artifacts.data.items.map((a) => (
              <li key={a.id}>
                <Link to={`/artifacts/${encodeURIComponent(a.id)}`}>
                  {a.kind}/{a.name}@v{a.version}
                </Link>
                <span className="muted">{formatDate(a.createdAt)}</span>
              </li>
            ))}
          </ul>
        )}
      </Panel>

      <Panel title="Files">
        <div className="table-scroll">
          <table className="data-table data-table-compact">
            <caption className="visually-hidden">Files of {m.name}</caption>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Size</th>
                <th scope="col" className="hide-narrow">
                  sha256
                </th>
              </tr>
            </thead>
            <tbody>
              {m.files.map((f) => (
                <tr key={f.path}>
                  <td>
                    <code>{f.path}</code>
                  </td>
                  <td>{formatBytes(f.size)}</td>
                  <td className="hide-narrow">
                    <code title={f.sha256}>{shortHash(f.sha256)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Panel>
    </>
  );
}
