import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { RegistryClient } from '../api/registry-client';
import type { Me } from '../api/types';

/** The key lives in sessionStorage: it survives reloads of this tab and is gone when the tab closes. */
const KEY_STORAGE = 'palette.console.apiKey';
const ME_STORAGE = 'palette.console.me';

export interface Session {
  readonly client: RegistryClient;
  readonly me: Me;
}

interface SessionContextValue {
  readonly session: Session | null;
  /** Checks the key against the registry (GraphQL `me`) and keeps it when accepted. */
  login(key: string): Promise<void>;
  logout(): void;
}

const SessionContext = createContext<SessionContextValue | null>(null);

function restore(): Session | null {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const me = sessionStorage.getItem(ME_STORAGE);
  if (!key || !me) return null;
  try {
    return { client: new RegistryClient(key), me: JSON.parse(me) as Me };
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | null>(restore);

  const login = useCallback(async (key: string) => {
    const client = new RegistryClient(key.trim());
    const me = await client.me();
    sessionStorage.setItem(KEY_STORAGE, client.key);
    sessionStorage.setItem(ME_STORAGE, JSON.stringify(me));
    setSession({ client, me });
  }, []);

  const logout = useCallback(() => {
    sessionStorage.removeItem(KEY_STORAGE);
    sessionStorage.removeItem(ME_STORAGE);
    setSession(null);
  }, []);

  const value = useMemo(() => ({ session, login, logout }), [session, login, logout]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSessionContext(): SessionContextValue {
  const value = useContext(SessionContext);
  if (value === null) throw new Error('useSessionContext outside SessionProvider');
  return value;
}

/** For pages behind the login: the session is always there (the shell redirects otherwise). */
export function useSession(): Session {
  const { session } = useSessionContext();
  if (session === null) throw new Error('useSession on a page that does not require login');
  return session;
}
