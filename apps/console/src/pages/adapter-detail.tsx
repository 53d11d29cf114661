import { useState, type FormEvent } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import { describeError, isRecord } from '../api/http';
import type { AdapterVersion } from '../api/types';
import { useSession } from '../auth/session';
import { Empty, ErrorAlert, Loading, Notice, PageHeader, Panel, Tag } from '../components/feedback';
import { LineageGraph } from '../components/lineage-graph';
import { EvaluationsTable, evaluationsOf, MetricGroups } from '../components/metrics';
import { saveBlob } from '../lib/download';
import { formatBytes, formatDate, formatNumber, formatPercent, shortHash } from '../lib/format';
import { layerNorms, tensorStats } from '../lib/safetensors-stats';
import { useAsync } from '../lib/use-async';
import { ScoreBar } from './adapters';

/** Tensor statistics download the weights into the browser: only below this size, automatically. */
const AUTO_STATS_MAX_BYTES = 32 * 1024 * 1024;

export function AdapterDetailPage() {
  const { name = '' } = useParams();
  const { client, me } = useSession();
  const location = useLocation();
  const uploaded = (location.state as { uploaded?: string; created?: boolean } | null) ?? null;
  const adapter = useAsync(() => client.adapter(name), [client, name]);
  const versions = useAsync(() => client.versions(name), [client, name]);
  const [selected, setSelected] = useState<number | null>(null);

  if (adapter.loading && adapter.data === undefined) return <Loading label="Loading adapter…" />;
  if (adapter.error !== undefined) return <ErrorAlert error={adapter.error} title={`Could not load adapter ${name}`} />;
  const a = adapter.data!;
  const list = [...(versions.data ?? [])].sort((x, y) => y.version - x.version);
  const version = list.find((v) => v.version === selected) ?? list[0];

  return (
    <>
      <nav aria-label="Breadcrumb" className="breadcrumb">
        <Link to="/adapters">Adapters</Link> <span aria-hidden="true">/</span> <span aria-current="page">{a.name}</span>
      </nav>
      <PageHeader
        title={a.name}
        description={a.description || 'No description.'}
        actions={version && <DownloadButton name={a.name} version={version.version} />}
      />
      {uploaded && <Notice tone="success">{uploaded.created === false ? `These files were already registered as ${uploaded.uploaded}.` : `Uploaded as ${uploaded.uploaded}.`}</Notice>}
      <dl className="facts">
        <div>
          <dt>Base model</dt>
          <dd>{a.baseModel}</dd>
        </div>
        <div>
          <dt>Versions</dt>
          <dd>{a.versionCount}</dd>
        </div>
        <div>
          <dt>Tags</dt>
          <dd className="tags">{a.tags.length ? a.tags.map((t) => <Tag key={t}>{t}</Tag>) : '—'}</dd>
        </div>
        <div>
          <dt>Updated</dt>
          <dd>{formatDate(a.updatedAt)}</dd>
        </div>
      </dl>

      <Panel title="Versions and aliases">
        {versions.error !== undefined && <ErrorAlert error={versions.error} />}
        {list.length > 0 && (
          <div className="table-scroll">
            <table className="data-table">
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Rank</th>
                  <th scope="col" className="hide-narrow">
                    Targets
                  </th>
                  <th scope="col">Size</th>
                  <th scope="col">Task acc.</th>
                  <th scope="col">Aliases</th>
                  <th scope="col" className="hide-narrow">
                    Created
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((v) => (
                  <tr key={v.id} aria-selected={v.version === version?.version}>
                    <td>
                      <button type="button" className="link-button" aria-pressed={v.version === version?.version} onClick={() => setSelected(v.version)}>
                        v{v.version}
                      </button>
                    </td>
                    <td>{v.rank}</td>
                    <td className="hide-narrow">{v.targetModules.join(', ')}</td>
                    <td>{formatBytes(v.sizeBytes)}</td>
                    <td>{isRecord(v.metrics) && typeof v.metrics.taskAccuracy === 'number' ? formatPercent(v.metrics.taskAccuracy) : '—'}</td>
                    <td className="tags">{v.aliases.length ? v.aliases.map((al) => <Tag key={al}>{al}</Tag>) : '—'}</td>
                    <td className="hide-narrow">{formatDate(v.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {me.role !== 'reader' && version && <AliasForm name={a.name} versions={list} onChanged={() => versions.reload()} />}
      </Panel>

      {version && <EvaluationsPanel name={a.name} baseModel={a.baseModel} version={version} canWrite={me.role !== 'reader'} />}
      {version && <TrainingMetricsPanel version={version} />}
      {version && <CompanionPanel name={a.name} version={version} />}
      {version && (
        <Panel title={`Configuration (v${version.version})`}>
          <dl className="facts facts-compact">
            <div>
              <dt>Content digest</dt>
              <dd>
                <code title={version.contentDigest}>{shortHash(version.contentDigest)}</code>
              </dd>
            </div>
            <div>
              <dt>Weights sha256</dt>
              <dd>
                <code title={version.weightsSha256}>{shortHash(version.weightsSha256)}</code>
              </dd>
            </div>
          </dl>
          <pre className="code-block" tabIndex={0} aria-label="adapter_config.json">
            {JSON.stringify(version.config, null, 2)}
          </pre>
        </Panel>
      )}
      {version && (
        <Panel title="Lineage">
          <VersionLineage name={a.name} version={version.version} />
        </Panel>
      )}
      {version && <TensorStatsPanel name={a.name} version={version} />}
      {version && <NeighboursPanel name={a.name} version={version} />}
    </>
  );
}

function DownloadButton({ name, version }: { name: string; version: number }) {
  const { client } = useSession();
  const [error, setError] = useState<string | undefined>();
  async function download() {
    setError(undefined);
    try {
      const { blob, fileName } = await client.downloadBundle(name, `v${version}`);
      saveBlob(blob, fileName);
    } catch (e) {
      setError(describeError(e));
    }
  }
  return (
    <>
      <button type="button" className="button" onClick={download}>
        Download v{version} (.tar.gz)
      </button>
      {error && (
        <span role="alert" className="field-error">
          {error}
        </span>
      )}
    </>
  );
}

function AliasForm({ name, versions, onChanged }: { name: string; versions: readonly AdapterVersion[]; onChanged: () => void }) {
  const { client } = useSession();
  const [alias, setAlias] = useState('');
  const [target, setTarget] = useState(`v${versions[0]?.version ?? 1}`);
  const [error, setError] = useState<unknown>();
  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(undefined);
    try {
      await client.setAlias(name, alias.trim(), target);
      setAlias('');
      onChanged();
    } catch (e) {
      setError(e);
    }
  }
  return (
    <form className="inline-form" onSubmit={submit} aria-label="Set alias">
      <div className="field">
        <label htmlFor="alias-name">Alias</label>
        <input id="alias-name" value={alias} onChange={(e) => setAlias(e.target.value)} placeholder="prod" required />
      </div>
      <div className="field">
        <label htmlFor="alias-target">Points at</label>
        <select id="alias-target" value={target} onChange={(e) => setTarget(e.target.value)}>
          {versions.map((v) => (
            <option key={v.id} value={`v${v.version}`}>
              v{v.version}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" className="button">
        Set alias
      </button>
      {error !== undefined && <ErrorAlert error={error} title="Could not set the alias" />}
    </form>
  );
}

function VersionLineage({ name, version }: { name: string; version: number }) {
  const { client } = useSession();
  const lineage = useAsync(() => client.lineage(name, `v${version}`), [client, name, version]);
  if (lineage.loading) return <Loading label="Loading lineage…" />;
  if (lineage.error !== undefined) return <ErrorAlert error={lineage.error} />;
  return <LineageGraph lineage={lineage.data!} />;
}

function TensorStatsPanel({ name, version }: { name: string; version: AdapterVersion }) {
  const { client } = useSession();
  const [requested, setRequested] = useState(version.sizeBytes <= AUTO_STATS_MAX_BYTES);
  const stats = useAsync(
    async (signal) => (requested ? tensorStats(await client.versionFile(name, `v${version.version}`, 'adapter_model.safetensors', signal)) : undefined),
    [client, name, version.version, requested],
  );
  const layers = stats.data ? layerNorms(stats.data) : [];
  const maxNorm = Math.max(1e-12, ...layers.map((l) => l.norm));
  return (
    <Panel title="Per-layer tensor statistics">
      {!requested && (
        <p>
          The weights are {formatBytes(version.sizeBytes)}.{' '}
          <button type="button" className="button" onClick={() => setRequested(true)}>
            Download and compute statistics
          </button>
        </p>
      )}
      {requested && stats.loading && <Loading label="Reading tensors…" />}
      {stats.error !== undefined && <ErrorAlert error={stats.error} title="Could not read the weights" />}
      {layers.length > 0 && (
        <div className="bars" role="list" aria-label="LoRA weight norm per layer">
          {layers.map((l) => (
            <div key={l.layer} role="listitem" className="bar-row">
              <span className="bar-label">layer {l.layer}</span>
              <span className="bar" aria-hidden="true">
                <span style={{ width: `${(l.norm / maxNorm) * 100}%` }} />
              </span>
              <span className="bar-value">{formatNumber(l.norm, 3)}</span>
            </div>
          ))}
        </div>
      )}
      {stats.data && (
        <div className="table-scroll table-tall">
          <table className="data-table data-table-compact">
            <caption className="visually-hidden">Statistics of every tensor in adapter_model.safetensors</caption>
            <thead>
              <tr>
                <th scope="col">Layer</th>
                <th scope="col">Module</th>
                <th scope="col">Side</th>
                <th scope="col">Shape</th>
                <th scope="col">Norm</th>
                <th scope="col">Mean</th>
                <th scope="col">Std</th>
                <th scope="col" className="hide-narrow">
                  Min / max
                </th>
              </tr>
            </thead>
            <tbody>
              {stats.data.map((s) => (
                <tr key={s.name} title={s.name}>
                  <td>{s.layer ?? '—'}</td>
                  <td>{s.module ?? s.name}</td>
                  <td>{s.side ?? '—'}</td>
                  <td>{s.shape.join('×')}</td>
                  <td>{formatNumber(s.norm, 3)}</td>
                  <td>{formatNumber(s.mean, 4)}</td>
                  <td>{formatNumber(s.std, 4)}</td>
                  <td className="hide-narrow">
                    {formatNumber(s.min, 3)} / {formatNumber(s.max, 3)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

function NeighboursPanel({ name, version }: { name: string; version: AdapterVersion }) {
  const { client } = useSession();
  const similar = useAsync(() => (version.hasSketch ? client.similar(name, `v${version.version}`) : Promise.resolve({ items: [] })), [client, name, version.version]);
  return (
    <Panel title="Nearest neighbours">
      <p className="muted">Adapters whose weights are closest (cosine similarity of weight sketches).</p>
      {!version.hasSketch && <Empty>This version has no weight sketch (too large when it was uploaded).</Empty>}
      {similar.loading && <Loading />}
      {similar.error !== undefined && <ErrorAlert error={similar.error} />}
      {similar.data && version.hasSketch && similar.data.items.length === 0 && <Empty>No other adapters on this base model yet.</Empty>}
      {similar.data && similar.data.items.length > 0 && (
        <ul className="neighbours">
          {similar.data.items.map((hit) => (
            <li key={`${hit.adapter.id}-${hit.version ?? ''}`}>
              <Link to={`/adapters/${encodeURIComponent(hit.adapter.name)}`}>
                {hit.adapter.name}
                {hit.version ? `@v${hit.version}` : ''}
              </Link>
              <ScoreBar score={hit.score} max={1} />
            </li>
          ))}
        </ul>
      )}
    </Panel>
  );
}

/**
 * Accuracy per world task from `evaluate` jobs (metrics.evaluations), next to the base model's own
 * accuracy on the same task when it was evaluated alone (its baseline), and metrics.taskAccuracy:
 * the accuracy on the task the adapter was trained for (tag task:<id>).
 */
function EvaluationsPanel({ name, baseModel, version, canWrite }: { name: string; baseModel: string; version: AdapterVersion; canWrite: boolean }) {
  const { client } = useSession();
  const base = useAsync(() => client.baseModel(baseModel), [client, baseModel]);
  const evaluations = evaluationsOf(version.metrics);
  const taskAccuracy = isRecord(version.metrics) && typeof version.metrics.taskAccuracy === 'number' ? version.metrics.taskAccuracy : undefined;
  const evaluateLink = `/jobs?kind=evaluate&baseModel=${encodeURIComponent(baseModel)}&adapter=${encodeURIComponent(`${name}@v${version.version}`)}`;
  return (
    <Panel title={`Evaluations (v${version.version})`} actions={canWrite && <Link className="button button-small" to={evaluateLink}>Evaluate…</Link>}>
      {taskAccuracy !== undefined && (
        <dl className="facts facts-compact">
          <div>
            <dt>Task accuracy</dt>
            <dd data-testid="task-accuracy" className="figure">
              {formatPercent(taskAccuracy)}
            </dd>
          </div>
        </dl>
      )}
      {evaluations.length === 0 ? (
        <Empty>Not evaluated yet: an evaluate job records its accuracy on a world task here.</Empty>
      ) : (
        <EvaluationsTable evaluations={evaluations} baseline={base.data ? evaluationsOf(base.data.metrics) : []} caption={`Accuracy of ${name}@v${version.version} per world task, with the base model alone`} />
      )}
    </Panel>
  );
}

/** What the job that produced the version measured: training (steps, losses, speed), eval loss, a transfer's filter figures. */
function TrainingMetricsPanel({ version }: { version: AdapterVersion }) {
  const shown = isRecord(version.metrics) && Object.keys(version.metrics).some((k) => k !== 'evaluations' && k !== 'taskAccuracy');
  if (!shown) return null;
  return (
    <Panel title={`Training metrics (v${version.version})`}>
      <MetricGroups metrics={version.metrics} skip={['evaluations', 'taskAccuracy']} />
    </Panel>
  );
}

/** A Trans-LoRA companion discriminator trained with this version (artifact linked to it), used to transfer it to other bases. */
function CompanionPanel({ name, version }: { name: string; version: AdapterVersion }) {
  const { client } = useSession();
  const companions = useAsync(() => client.artifacts({ kind: 'discriminator', adapterVersion: `${name}@v${version.version}`, limit: 5 }), [client, name, version.version]);
  if (companions.error !== undefined) return <ErrorAlert error={companions.error} title="Could not look up the companion discriminator" />;
  const items = companions.data?.items ?? [];
  if (items.length === 0) return null;
  return (
    <Panel title="Companion discriminator">
      <p className="muted">Trained with this version to filter synthetic prompts when it is transferred to another base (Trans-LoRA).</p>
      <ul className="neighbours">
        {items.map((d) => {
          const manifest = isRecord(d.metadata) && isRecord(d.metadata.manifest) ? d.metadata.manifest : {};
          return (
            <li key={d.id}>
              <Link to={`/artifacts/${encodeURIComponent(d.id)}`}>
                discriminator/{d.name}@v{d.version}
              </Link>
              <span className="muted">
                {typeof manifest.threshold === 'number' ? `threshold ${formatNumber(manifest.threshold, 3)} · ` : ''}
                {formatDate(d.createdAt)}
              </span>
            </li>
          );
        })}
      </ul>
    </Panel>
  );
}
