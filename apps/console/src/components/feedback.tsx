import type { ReactNode } from 'react';
import { describeError, ApiError } from '../api/http';

/** An error the user should read now: announced by screen readers (role=alert). */
export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  const problems = error instanceof ApiError ? error.problems : [];
  return (
    <div className="alert alert-error" role="alert">
      <strong>{title ?? 'Something went wrong'}</strong>
      <p>{describeError(error)}</p>
      {problems.length > 1 && (
        <ul>
          {problems.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Notice({ children, tone = 'info' }: { children: ReactNode; tone?: 'info' | 'success' | 'warning' }) {
  return (
    <div className={`alert alert-${tone}`} role="status">
      {children}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="empty">{children}</p>;
}

const STATUS_TONES: Readonly<Record<string, string>> = {
  succeeded: 'success',
  ready: 'success',
  ok: 'success',
  running: 'info',
  queued: 'neutral',
  failed: 'danger',
  not_ready: 'danger',
  down: 'danger',
  cancelled: 'warning',
  revoked: 'warning',
  active: 'success',
  building: 'info',
  retired: 'neutral',
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${STATUS_TONES[status] ?? 'neutral'}`}>{status.replace('_', ' ')}</span>;
}

export function Tag({ children }: { children: ReactNode }) {
  return <span className="tag">{children}</span>;
}

export function PageHeader({ title, description, actions }: { title: string; description?: ReactNode; actions?: ReactNode }) {
  return (
    <header className="page-header">
      <div>
        <h1>{title}</h1>
        {description && <p className="muted">{description}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </header>
  );
}

export function Panel({ title, children, actions, id }: { title: string; children: ReactNode; actions?: ReactNode; id?: string }) {
  const headingId = `${id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-heading`;
  return (
    <section className="panel" aria-labelledby={headingId}>
      <div className="panel-header">
        <h2 id={headingId}>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}
