import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { ARTIFACT_KINDS, type Artifact } from '../api/types';
import { useSession } from '../auth/session';
import { ArtifactFiles, ArtifactSummary } from '../components/artifact-summary';
import { Empty, ErrorAlert, Loading, PageHeader, Panel, StatusBadge } from '../components/feedback';
import { formatDate } from '../lib/format';
import { useAsync } from '../lib/use-async';

const KIND_LABELS: Readonly<Record<string, string>> = { router: 'Routers', retriever: 'Retrievers', discriminator: 'Discriminators' };
const PAGE = 50;

/**
 * Routers (MeteoRA / FlyLoRA / X-Cross), retrievers and Trans-LoRA discriminators: the registry's
 * artifacts, by kind, with what tells them apart and their files; then the embedding spaces the
 * retrievers define (one active per base model).
 */
export function ArtifactsPage() {
  const { client } = useSession();
  const [params, setParams] = useSearchParams();
  const kind = params.get('kind') ?? '';
  const baseModel = params.get('baseModel') ?? '';
  const [more, setMore] = useState<{ items: Artifact[]; cursor: string | null } | undefined>();
  const first = useAsync(
    async (signal) => {
      setMore(undefined);
      return client.artifacts({ kind: kind || undefined, baseModel: baseModel || undefined, limit: PAGE }, signal);
    },
    [client, kind, baseModel],
  );
  const spaces = useAsync(() => client.embeddingSpaces(), [client]);
  const items = [...(first.data?.items ?? []), ...(more?.items ?? [])];
  const cursor = more ? more.cursor : (first.data?.nextCursor ?? null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<unknown>();

  async function loadMore() {
    if (!cursor) return;
    setLoadingMore(true);
    setMoreError(undefined);
    try {
      const page = await client.artifacts({ kind: kind || undefined, baseModel: baseModel || undefined, limit: PAGE, cursor });
      setMore({ items: [...(more?.items ?? []), ...page.items], cursor: page.nextCursor });
    } catch (error) {
      setMoreError(error);
    } finally {
      setLoadingMore(false);
    }
  }

  const show = (next: string) => {
    const q = new URLSearchParams(params);
    if (next) q.set('kind', next);
    else q.delete('kind');
    setParams(q);
  };

  return (
    <>
      <PageHeader title="Routers & artifacts" description="Learned routers, retrievers and Trans-LoRA discriminators in the registry: versioned, immutable, files content-addressed." />
      <nav className="tabs" aria-label="Artifact kinds">
        {['', ...ARTIFACT_KINDS].map((k) => (
          <button key={k || 'all'} type="button" className="tab" aria-pressed={kind === k} onClick={() => show(k)}>
            {k ? KIND_LABELS[k] : 'All'}
          </button>
        ))}
        {baseModel && (
          <span className="muted">
            base model <strong>{baseModel}</strong>{' '}
            <Link to={kind ? `/artifacts?kind=${kind}` : '/artifacts'}>(any base)</Link>
          </span>
        )}
      </nav>
      <Panel title={kind ? KIND_LABELS[kind] ?? kind : 'All artifacts'} id="artifact-list">
        {first.loading && <Loading label="Loading artifacts…" />}
        {first.error !== undefined && <ErrorAlert error={first.error} title="Could not load artifacts" />}
        {first.data && items.length === 0 && <Empty>{kind ? `No ${KIND_LABELS[kind]?.toLowerCase() ?? kind} yet.` : 'No artifacts yet: train a router (train-router job) or upload one.'}</Empty>}
        {items.length > 0 && (
          <div className="table-scroll">
            <table className="data-table">
              <caption className="visually-hidden">Artifacts, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Artifact</th>
                  <th scope="col" className="hide-narrow">
                    Base
                  </th>
                  <th scope="col">Summary</th>
                  <th scope="col" className="hide-narrow">
                    Files
                  </th>
                  <th scope="col" className="hide-narrow">
                    Created
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((a) => (
                  <tr key={a.id} data-artifact={`${a.kind}/${a.name}@v${a.version}`}>
                    <td>
                      <Link to={`/artifacts/${encodeURIComponent(a.id)}`}>
                        {a.name}@v{a.version}
                      </Link>
                      <div className="muted">
                        {a.kind}
                        <span className="show-narrow"> · {a.baseModel?.name ?? 'any base'}</span>
                        <span className="hide-narrow">
                          {' '}
                          · <code>{a.format}</code>
                        </span>
                      </div>
                      {a.description && <div className="muted clamp">{a.description}</div>}
                    </td>
                    <td className="hide-narrow cell-nowrap">{a.baseModel ? <Link to={`/base-models/${encodeURIComponent(a.baseModel.name)}`}>{a.baseModel.name}</Link> : <span className="muted">any</span>}</td>
                    <td>
                      <ArtifactSummary artifact={a} />
                    </td>
                    <td className="hide-narrow">
                      <ArtifactFiles artifact={a} />
                    </td>
                    <td className="hide-narrow">
                      {formatDate(a.createdAt)}
                      {a.jobId && (
                        <div>
                          <Link to={`/jobs/${encodeURIComponent(a.jobId)}`}>from job</Link>
                        </div>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {moreError !== undefined && <ErrorAlert error={moreError} />}
        {cursor && (
          <p>
            <button type="button" className="button" onClick={loadMore} disabled={loadingMore}>
              {loadingMore ? 'Loading…' : 'Load more'}
            </button>
          </p>
        )}
      </Panel>
      <Panel title="Embedding spaces">
        <p className="muted">Each retriever defines a space; adapter search and routing by text use the active space of a base model. Without one, text → adapter search answers that the base has no retriever yet.</p>
        {spaces.loading && <Loading />}
        {spaces.error !== undefined && <ErrorAlert error={spaces.error} title="Could not load embedding spaces" />}
        {spaces.data?.length === 0 && <Empty>No embedding space yet: train a retriever, then install it.</Empty>}
        {spaces.data && spaces.data.length > 0 && (
          <div className="table-scroll">
            <table className="data-table data-table-compact">
              <caption className="visually-hidden">Embedding spaces, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Space</th>
                  <th scope="col">Base</th>
                  <th scope="col">Status</th>
                  <th scope="col">Embeddings</th>
                  <th scope="col" className="hide-narrow">
                    Retriever
                  </th>
                  <th scope="col" className="hide-narrow">
                    Activated
                  </th>
                </tr>
              </thead>
              <tbody>
                {spaces.data.map((s) => (
                  <tr key={s.id}>
                    <td>
                      <code>{s.id}</code>
                    </td>
                    <td>{s.baseModel}</td>
                    <td>
                      <StatusBadge status={s.status} />
                    </td>
                    <td>
                      {s.weightEmbeddings} weight · {s.textEmbeddings} text
                    </td>
                    <td className="hide-narrow">{s.artifactId ? <Link to={`/artifacts/${encodeURIComponent(s.artifactId)}`}>{s.artifact ?? s.artifactId}</Link> : '—'}</td>
                    <td className="hide-narrow">{formatDate(s.activatedAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
    </>
  );
}
