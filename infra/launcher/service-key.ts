/**
 * The `service` API key the trainer-worker and the router use (never the admin key): minted
 * through the registry's key API with the bootstrap admin key on the first start, kept in
 * DATA_DIR/service-key (mode 0600), checked and reused on later starts, and minted again when
 * it no longer works (a revoked key, a database started over).
 */
import { chmod, readFile, rename, writeFile } from 'node:fs/promises';

export const SERVICE_KEY_NAME = 'palette-services';

export interface ServiceKeyOptions {
  /** registry-api base URL, e.g. http://127.0.0.1:8080. */
  readonly registryUrl: string;
  readonly adminKeyFile: string;
  readonly serviceKeyFile: string;
  readonly log: (line: string) => void;
  readonly timeoutMs?: number;
}

export class ServiceKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServiceKeyError';
  }
}

async function readKey(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The role of `key` per the registry (GraphQL `me`), or undefined when the registry refuses it. */
export async function keyRole(registryUrl: string, key: string, timeoutMs = 10_000): Promise<string | undefined> {
  const res = await fetch(`${registryUrl}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ me { role } }' }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json().catch(() => ({}))) as { data?: { me?: { role?: string } } };
  return res.ok ? body.data?.me?.role : undefined;
}

/** Returns the service key, minting and storing one when the stored one is missing or refused. */
export async function ensureServiceKey(options: ServiceKeyOptions): Promise<string> {
  const { registryUrl, adminKeyFile, serviceKeyFile, log } = options;
  const stored = await readKey(serviceKeyFile);
  if (stored !== undefined && (await keyRole(registryUrl, stored, options.timeoutMs)) === 'service') return stored;

  const admin = await readKey(adminKeyFile);
  if (admin === undefined) {
    throw new ServiceKeyError(
      `${stored === undefined ? `no service key at ${serviceKeyFile}` : `the service key in ${serviceKeyFile} is no longer accepted`}, and no admin key at ${adminKeyFile} to mint one. ` +
        `Create a key with role 'service' (POST /api/v1/keys) and write it to ${serviceKeyFile}, or delete DATA_DIR to start over.`,
    );
  }
  const res = await fetch(`${registryUrl}/api/v1/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: SERVICE_KEY_NAME, role: 'service' }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { key?: string; id?: string; error?: { message?: string } };
  if (res.status !== 201 || typeof body.key !== 'string') {
    throw new ServiceKeyError(`minting the service key with the admin key from ${adminKeyFile} failed: HTTP ${res.status} ${body.error?.message ?? ''}`.trim());
  }
  // Write then rename: a crash never leaves a half-written key file behind.
  const tmp = `${serviceKeyFile}.tmp`;
  await writeFile(tmp, `${body.key}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, serviceKeyFile);
  log(`minted a service API key for the worker and the router (${SERVICE_KEY_NAME}, id ${body.id ?? '?'}), kept in ${serviceKeyFile}`);
  return body.key;
}
