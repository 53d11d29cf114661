import { Link, useParams } from 'react-router';
import { useSession } from '../auth/session';
import { ArtifactFiles, ArtifactSummary, manifestOf } from '../components/artifact-summary';
import { ErrorAlert, Loading, Notice, PageHeader, Panel } from '../components/feedback';
import { MetricGroups } from '../components/metrics';
import { formatDate } from '../lib/format';
import { useAsync } from '../lib/use-async';

/** One artifact by id (soft-deleted ones too): what it is, its files, the manifest summary and the rest of its metadata. */
export function ArtifactDetailPage() {
  const { id = '' } = useParams();
  const { client } = useSession();
  const artifact = useAsync(() => client.artifactById(id), [client, id]);
  if (artifact.loading && artifact.data === undefined) return <Loading label="Loading artifact…" />;
  if (artifact.error !== undefined) return <ErrorAlert error={artifact.error} title={`Could not load artifact ${id}`} />;
  const a = artifact.data!;
  const manifest = manifestOf(a);
  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/artifacts">Routers &amp; artifacts</Link> <span aria-hidden="true">/</span>{' '}
        <span aria-current="page">
          {a.kind}/{a.name}@v{a.version}
        </span>
      </nav>
      <PageHeader
        title={`${a.name}@v${a.version}`}
        description={a.description || `${a.kind} · ${a.format}`}
        actions={
          a.kind === 'router' &&
          a.baseModel && (
            <Link className="button" to={`/playground?model=${encodeURIComponent(a.name)}`}>
              Try in the playground
            </Link>
          )
        }
      />
      {a.deletedAt && <Notice tone="warning">Deleted {formatDate(a.deletedAt)}: kept for the jobs and spaces that name it, hidden from listings.</Notice>}
      <dl className="facts">
        <div>
          <dt>Kind</dt>
          <dd>{a.kind}</dd>
        </div>
        <div>
          <dt>Format</dt>
          <dd>
            <code>{a.format}</code>
          </dd>
        </div>
        <div>
          <dt>Base model</dt>
          <dd>{a.baseModel ? <Link to={`/base-models/${encodeURIComponent(a.baseModel.name)}`}>{a.baseModel.name}</Link> : 'any'}</dd>
        </div>
        <div>
          <dt>Produced by</dt>
          <dd>{a.jobId ? <Link to={`/jobs/${encodeURIComponent(a.jobId)}`}>job {a.jobId}</Link> : 'upload'}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDate(a.createdAt)}</dd>
        </div>
      </dl>
      <Panel title="Summary">
        <ArtifactSummary artifact={a} />
        <MetricGroups metrics={manifest} skip={['experts', 'kind', 'space', 'baseModel']} />
      </Panel>
      <Panel title="Files">
        <ArtifactFiles artifact={a} />
      </Panel>
      <Panel title="Metadata">
        <pre className="code-block" tabIndex={0} aria-label="Artifact metadata">
          {JSON.stringify(a.metadata, null, 2)}
        </pre>
      </Panel>
    </>
  );
}
