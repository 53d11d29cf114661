import { useState, type FormEvent } from 'react';
import { ROLES, type ApiKey, type CreatedApiKey, type Role } from '../api/types';
import { useSession } from '../auth/session';
import { ErrorAlert, Loading, Notice, PageHeader, Panel, StatusBadge } from '../components/feedback';
import { formatDate } from '../lib/format';
import { useAsync } from '../lib/use-async';

/** API keys (admin): create (the secret is shown once), list, revoke. */
export function KeysPage() {
  const { client, me } = useSession();
  const keys = useAsync(() => client.keys(), [client]);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [actionError, setActionError] = useState<unknown>();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('reader');

  async function create(event: FormEvent) {
    event.preventDefault();
    setActionError(undefined);
    try {
      setCreated(await client.createKey(name.trim(), role));
      setName('');
      keys.reload();
    } catch (e) {
      setActionError(e);
    }
  }

  async function revoke(key: ApiKey) {
    if (!window.confirm(`Revoke the key “${key.name}”? Anything using it stops working at once.`)) return;
    setActionError(undefined);
    try {
      await client.revokeKey(key.id);
      keys.reload();
    } catch (e) {
      setActionError(e);
    }
  }

  return (
    <>
      <PageHeader title="API keys" description="Keys for people, workers and routers. Roles: reader < writer < admin; service is for workers." />
      <Panel title="Create a key">
        <form className="inline-form" onSubmit={create} aria-label="Create key">
          <div className="field field-grow">
            <label htmlFor="key-name">Name</label>
            <input id="key-name" value={name} onChange={(e) => setName(e.target.value)} required maxLength={100} placeholder="e.g. trainer-worker-2" />
          </div>
          <div className="field">
            <label htmlFor="key-role">Role</label>
            <select id="key-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" className="button button-primary">
            Create key
          </button>
        </form>
        {created && (
          <Notice tone="success">
            <p>
              Key <strong>{created.name}</strong> created. Copy it now: it is not shown again.
            </p>
            <code className="secret" aria-label="New API key">
              {created.key}
            </code>
          </Notice>
        )}
      </Panel>
      {actionError !== undefined && <ErrorAlert error={actionError} />}
      {keys.loading && keys.data === undefined && <Loading label="Loading keys…" />}
      {keys.error !== undefined && <ErrorAlert error={keys.error} title="Could not load keys" />}
      {keys.data && (
        <div className="table-scroll">
          <table className="data-table">
            <caption className="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Role</th>
                <th scope="col" className="hide-narrow">
                  Key id
                </th>
                <th scope="col" className="hide-narrow">
                  Last used
                </th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.id} data-key-name={k.name}>
                  <td>{k.name}</td>
                  <td>{k.role}</td>
                  <td className="hide-narrow">
                    <code>plt_{k.publicId}_…</code>
                  </td>
                  <td className="hide-narrow">{formatDate(k.lastUsedAt)}</td>
                  <td>{k.revokedAt ? <StatusBadge status="revoked" /> : <StatusBadge status="active" />}</td>
                  <td>
                    {!k.revokedAt && k.id !== me.id && (
                      <button type="button" className="button button-danger button-small" onClick={() => revoke(k)} aria-label={`Revoke ${k.name}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
