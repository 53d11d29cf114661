import { useState } from 'react';
import { Link } from 'react-router';
import { describeError, isRecord } from '../api/http';
import type { Artifact, ArtifactFile } from '../api/types';
import { useSession } from '../auth/session';
import { saveBlob } from '../lib/download';
import { formatBytes, formatNumber } from '../lib/format';
import { Tag } from './feedback';

/** metadata.manifest: what the registry read from the artifact's own files (never what the uploader claimed). */
export function manifestOf(artifact: Artifact): Record<string, unknown> {
  return isRecord(artifact.metadata) && isRecord(artifact.metadata.manifest) ? artifact.metadata.manifest : {};
}

/** "adapter@v2" → /adapters/adapter */
const adapterPath = (ref: string) => `/adapters/${encodeURIComponent(ref.split('@')[0]!)}`;

/**
 * The few facts that tell artifacts of a kind apart: a router's strategy and experts, a
 * retriever's embedding space, a discriminator's companion adapter and threshold.
 */
export function ArtifactSummary({ artifact }: { artifact: Artifact }) {
  const m = manifestOf(artifact);
  if (artifact.kind === 'router') {
    const experts = Array.isArray(m.experts) ? m.experts.filter((e): e is string => typeof e === 'string') : [];
    const metrics = isRecord(m.metrics) ? Object.entries(m.metrics).filter(([, v]) => typeof v === 'number') : [];
    return (
      <div className="artifact-summary">
        <span>
          <span className="muted">strategy</span> <strong data-testid="router-strategy">{String(m.kind ?? '?')}</strong>
          {typeof m.targets === 'number' && <span className="muted"> · {m.targets} gated modules</span>}
        </span>
        <span className="tags" aria-label="Experts">
          {experts.map((e) => (
            <Link key={e} to={adapterPath(e)} className="tag">
              {e}
            </Link>
          ))}
        </span>
        {metrics.length > 0 && <span className="muted">{metrics.map(([k, v]) => `${k} ${formatNumber(v as number, 3)}`).join(' · ')}</span>}
      </div>
    );
  }
  if (artifact.kind === 'retriever') {
    const text = isRecord(m.text) ? m.text : {};
    return (
      <div className="artifact-summary">
        <span>
          <span className="muted">space</span> <code data-testid="retriever-space">{String(m.space ?? '?')}</code>
        </span>
        <span className="muted">
          {typeof m.outDim === 'number' ? `${m.outDim}-d` : ''}
          {typeof text.kind === 'string' ? ` · text ${text.kind}` : ''}
          {typeof text.encoderId === 'string' ? ` (${text.encoderId})` : ''}
        </span>
      </div>
    );
  }
  if (artifact.kind === 'discriminator') {
    const companion = artifact.adapterVersion;
    return (
      <div className="artifact-summary">
        {companion && (
          <span>
            <span className="muted">companion of</span>{' '}
            <Link to={adapterPath(companion.adapter)}>
              {companion.adapter}@v{companion.version}
            </Link>
          </span>
        )}
        <span className="muted">
          {typeof m.threshold === 'number' ? `threshold ${formatNumber(m.threshold, 3)}` : ''}
          {typeof m.rank === 'number' ? ` · rank ${m.rank}` : ''}
        </span>
      </div>
    );
  }
  return <Tag>{artifact.format}</Tag>;
}

/** One download button per file (the route needs the key, so the page fetches and saves the bytes). */
export function ArtifactFiles({ artifact }: { artifact: Artifact }) {
  const { client } = useSession();
  const [error, setError] = useState<string | undefined>();
  async function download(file: ArtifactFile) {
    setError(undefined);
    try {
      saveBlob(await client.downloadArtifactFile(artifact.id, file.path), `${artifact.name}-v${artifact.version}-${file.path}`);
    } catch (e) {
      setError(describeError(e));
    }
  }
  return (
    <div className="file-list">
      {artifact.files.map((f) => (
        <button key={f.path} type="button" className="link-button" onClick={() => download(f)} title={`sha256 ${f.sha256}`} aria-label={`Download ${f.path} of ${artifact.name}@v${artifact.version}`}>
          {f.path} <span className="muted">({formatBytes(f.size)})</span>
        </button>
      ))}
      {error && (
        <span role="alert" className="field-error">
          {error}
        </span>
      )}
    </div>
  );
}
