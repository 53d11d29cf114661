import { useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { useSessionContext } from '../auth/session';
import { ErrorAlert } from '../components/feedback';

export function LoginPage() {
  const { session, login } = useSessionContext();
  const navigate = useNavigate();
  const location = useLocation();
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? '/adapters';

  if (session !== null) return <Navigate to={from} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(key);
      navigate(from, { replace: true });
    } catch (reason) {
      setError(reason);
      setBusy(false);
    }
  }

  return (
    <main className="login" id="main">
      <form className="login-card" onSubmit={submit} aria-describedby="login-help">
        <div className="brand brand-large">
          <span className="brand-mark" aria-hidden="true" />
          Palette
        </div>
        <h1>Sign in to the console</h1>
        <p id="login-help" className="muted">
          Use an API key from the registry (<code>plt_…</code>). The launcher prints an admin key at first start. The key stays in this tab only.
        </p>
        <label htmlFor="api-key">API key</label>
        <input id="api-key" name="apiKey" type="password" autoComplete="off" spellCheck={false} required value={key} onChange={(e) => setKey(e.target.value)} placeholder="plt_…" aria-invalid={error !== undefined} />
        {error !== undefined && <ErrorAlert error={error} title="Sign-in failed" />}
        <button className="button button-primary" type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
