import { Link } from 'react-router';
import { isRecord } from '../api/http';
import type { Job, JobRegistered } from '../api/types';

/**
 * What a job will register (Job.registration, per kind) and what it did register (Job.registered),
 * shown the same way for every kind: the registry defines both, the console only lays them out.
 */

/** "adapter: legal-de · tags: a, b": the scalar facts of a registration, nested objects by their name. */
export function summariseRecord(value: unknown, limit = 4): string {
  if (!isRecord(value)) return value === null || value === undefined ? '—' : String(value);
  const parts: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (/Id$/.test(key) && typeof v === 'string') continue; // internal ids say nothing to a reader
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') parts.push(`${key}: ${v}`);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) parts.push(`${key}: ${v.join(', ') || '—'}`);
    else if (isRecord(v) && typeof v.name === 'string') parts.push(`${key}: ${typeof v.kind === 'string' ? `${v.kind}/` : ''}${v.name}`);
  }
  return parts.slice(0, limit).join(' · ') || '—';
}

/** The console page of what a job registered, when there is one. */
export function registeredPath(registered: JobRegistered, job?: Pick<Job, 'registration'>): string | undefined {
  const name = registered.name ?? '';
  switch (registered.type) {
    case 'adapter-version':
      return name ? `/adapters/${encodeURIComponent(name.split('@')[0]!)}` : undefined;
    case 'base-model':
      return name ? `/base-models/${encodeURIComponent(name)}` : undefined;
    case 'evaluation': {
      // Recorded on an adapter version (name@vN) or, for a baseline, on the base model.
      const target = isRecord(job?.registration) ? job.registration.target : undefined;
      if (target === 'base-model' || (target === undefined && !name.includes('@'))) return name ? `/base-models/${encodeURIComponent(name)}` : undefined;
      return name ? `/adapters/${encodeURIComponent(name.split('@')[0]!)}` : undefined;
    }
    case 'artifact':
      return registered.id ? `/artifacts/${encodeURIComponent(registered.id)}` : undefined;
    default:
      return undefined;
  }
}

const TYPE_LABELS: Readonly<Record<string, string>> = {
  'adapter-version': 'adapter version',
  'base-model': 'base model',
  evaluation: 'evaluation',
  artifact: 'artifact',
  none: 'nothing',
};

/** "adapter version legal-de@v2" as a link to it. */
export function RegisteredLink({ registered, job }: { registered: JobRegistered | null | undefined; job?: Pick<Job, 'registration'> }) {
  if (!isRecord(registered)) return <span className="muted">—</span>;
  const path = registeredPath(registered, job);
  const label = registered.name ?? registered.id ?? '';
  return (
    <span>
      <span className="muted">{TYPE_LABELS[registered.type] ?? registered.type}</span>{' '}
      {path ? <Link to={path}>{label}</Link> : <span>{label}</span>}
    </span>
  );
}
