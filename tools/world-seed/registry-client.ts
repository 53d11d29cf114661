/**
 * A typed client of the registry-api REST routes the seeder uses (and the launcher, for API
 * keys). Plain `fetch`, no framework: errors keep the registry's `{error: {code, message}}` so a
 * caller can tell "not found" (skip/create) from a real failure, and a 4xx message reaches the
 * user as the registry wrote it.
 */
import { IDEMPOTENCY_HEADER, type JobProgress } from '@palette/job-contracts';
import { readSse } from './sse';

export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

export interface ApiKeyInfo {
  readonly id: string;
  readonly name: string;
  readonly role: string;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** The plaintext key, shown once. */
  readonly key: string;
}

export interface BaseModelInfo {
  readonly id: string;
  readonly name: string;
  readonly files: readonly { path: string; sha256: string; size: number }[];
  readonly summary: { parameters: number; layers: number; hiddenSize: number; vocabSize: number };
  readonly createdAt: string;
}

export interface DatasetInfo {
  readonly id: string;
  readonly sha256: string;
  readonly name: string;
  readonly format: string;
  readonly rows: number;
}

export interface AdapterInfo {
  readonly id: string;
  readonly name: string;
  readonly baseModel: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly latestVersion: number | null;
}

export interface LineageEdgeInfo {
  readonly kind: string;
  readonly ref?: string | null;
  readonly parent?: unknown;
  readonly [key: string]: unknown;
}

export interface AdapterVersionInfo {
  readonly id: string;
  readonly adapter: string;
  readonly version: number;
  readonly lineage: readonly LineageEdgeInfo[];
  readonly metrics: Record<string, unknown>;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobInfo {
  readonly id: string;
  readonly kind: string;
  readonly status: JobStatus;
  readonly baseModel: string | null;
  readonly adapter: string | null;
  readonly adapterVersion: string | null;
  readonly progress: Partial<JobProgress>;
  readonly result: Record<string, unknown> | null;
  readonly error: string | null;
  readonly [key: string]: unknown;
}

/** A file of a multipart upload. */
export interface UploadFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** One server-sent event of a job stream (`state`, `progress`, `completed`, `failed`, `cancelled`). */
export interface JobStreamEvent {
  readonly event: string;
  readonly data: unknown;
}

export interface RegistryClientOptions {
  readonly baseUrl: string;
  readonly apiKey: string;
  /** Per request, except event streams (default 120 s: uploads of a few MB on a busy box). */
  readonly timeoutMs?: number;
}

export class RegistryClient {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;

  constructor(options: RegistryClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  // ---- keys and identity --------------------------------------------------------------------------

  /** The key's own identity (GraphQL `me`): a cheap check that a stored key still works. */
  async me(): Promise<ApiKeyInfo> {
    const body = await this.request<{ data?: { me: ApiKeyInfo }; errors?: { message: string; extensions?: { code?: string; status?: number } }[] }>('POST', '/graphql', {
      json: { query: '{ me { id name role } }' },
    });
    const error = body.errors?.[0];
    if (error !== undefined || body.data === undefined) throw new RegistryError(error?.extensions?.status ?? 401, error?.extensions?.code ?? 'UNAUTHENTICATED', error?.message ?? 'no identity');
    return body.data.me;
  }

  createApiKey(name: string, role: 'reader' | 'writer' | 'admin' | 'service'): Promise<CreatedApiKey> {
    return this.request('POST', '/api/v1/keys', { json: { name, role } });
  }

  // ---- catalog -------------------------------------------------------------------------------------

  /** The base model, or undefined when the registry has none of that name. */
  getBaseModel(name: string): Promise<BaseModelInfo | undefined> {
    return this.orUndefined(this.request('GET', `/api/v1/base-models/${encodeURIComponent(name)}`));
  }

  uploadBaseModel(name: string, files: readonly UploadFile[]): Promise<BaseModelInfo> {
    return this.request('POST', '/api/v1/base-models', { form: formOf({ name }, files) });
  }

  getAdapter(name: string): Promise<AdapterInfo | undefined> {
    return this.orUndefined(this.request('GET', `/api/v1/adapters/${encodeURIComponent(name)}`));
  }

  getAdapterVersion(name: string, ref: string): Promise<AdapterVersionInfo> {
    return this.request('GET', `/api/v1/adapters/${encodeURIComponent(name)}/versions/${encodeURIComponent(ref)}`);
  }

  /** Adapters carrying `tag` (at most 200: one page, enough for any world). */
  async adaptersTagged(tag: string): Promise<AdapterInfo[]> {
    const page = await this.request<{ items: AdapterInfo[] }>('GET', `/api/v1/adapters?tag=${encodeURIComponent(tag)}&limit=200`);
    return page.items;
  }

  setDescription(adapter: string, description: string): Promise<AdapterInfo> {
    return this.request('PATCH', `/api/v1/adapters/${encodeURIComponent(adapter)}`, { json: { description } });
  }

  addTags(adapter: string, tags: readonly string[]): Promise<AdapterInfo> {
    return this.request('POST', `/api/v1/adapters/${encodeURIComponent(adapter)}/tags`, { json: { tags } });
  }

  /** Multipart adapter upload (the --from-dir import); `fields` are name, baseModel, description, tags, ... */
  uploadAdapter(fields: Record<string, string>, files: readonly UploadFile[]): Promise<{ adapter: AdapterInfo; version: AdapterVersionInfo; created: boolean }> {
    return this.request('POST', '/api/v1/adapters', { form: formOf(fields, files) });
  }

  // ---- datasets and jobs -----------------------------------------------------------------------------

  /** Uploads JSONL; the same bytes again answer with the existing dataset. */
  async uploadDataset(name: string, jsonl: string, evalFraction: number): Promise<DatasetInfo> {
    const body = await this.request<{ dataset: DatasetInfo }>('POST', '/api/v1/datasets', {
      form: formOf({ name, evalFraction: String(evalFraction) }, [{ name: 'file', bytes: Buffer.from(jsonl) }], `${name}.jsonl`),
    });
    return body.dataset;
  }

  /** POST /jobs with the idempotency key as job id: a repeat answers with the existing job (created false). */
  submitJob(idempotencyKey: string, spec: Record<string, unknown>): Promise<{ job: JobInfo; created: boolean }> {
    return this.request('POST', '/api/v1/jobs', { json: spec, headers: { [IDEMPOTENCY_HEADER]: idempotencyKey } });
  }

  getJob(id: string): Promise<JobInfo | undefined> {
    return this.orUndefined(this.request('GET', `/api/v1/jobs/${encodeURIComponent(id)}`));
  }

  retryJob(id: string): Promise<JobInfo> {
    return this.request('POST', `/api/v1/jobs/${encodeURIComponent(id)}/retry`);
  }

  /**
   * Follows GET /jobs/:id/events until the server ends the stream (after the final event), calling
   * `onEvent` for each; resolves with the last event. `signal` aborts the stream (Ctrl-C).
   */
  async followJob(id: string, onEvent: (e: JobStreamEvent) => void, signal?: AbortSignal): Promise<JobStreamEvent | undefined> {
    const res = await fetch(`${this.baseUrl}/api/v1/jobs/${encodeURIComponent(id)}/events`, {
      headers: { authorization: `Bearer ${this.apiKey}`, accept: 'text/event-stream' },
      ...(signal !== undefined ? { signal } : {}),
    });
    if (!res.ok || res.body === null) throw await errorOf(res);
    let last: JobStreamEvent | undefined;
    for await (const e of readSse(res.body)) {
      let data: unknown = e.data;
      try {
        data = JSON.parse(e.data) as unknown;
      } catch {
        // Not JSON: keep the text.
      }
      last = { event: e.event, data };
      onEvent(last);
    }
    return last;
  }

  // ---- plumbing -------------------------------------------------------------------------------------

  private async orUndefined<T>(pending: Promise<T>): Promise<T | undefined> {
    try {
      return await pending;
    } catch (e) {
      if (e instanceof RegistryError && e.status === 404) return undefined;
      throw e;
    }
  }

  async request<T>(method: string, path: string, body: { json?: unknown; form?: FormData; headers?: Record<string, string> } = {}): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}`, ...body.headers };
    let payload: string | FormData | undefined;
    if (body.json !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body.json);
    } else if (body.form !== undefined) {
      payload = body.form;
    }
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      throw new RegistryError(0, 'UNREACHABLE', `${method} ${this.baseUrl}${path}: ${cause ?? (e as Error).message}`);
    }
    if (!res.ok) throw await errorOf(res, `${method} ${path}`);
    return (await res.json()) as T;
  }
}

function formOf(fields: Record<string, string>, files: readonly UploadFile[], fileName?: string): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) form.append(f.name, new Blob([f.bytes]), fileName ?? f.name);
  return form;
}

async function errorOf(res: Response, what = res.url): Promise<RegistryError> {
  const text = await res.text().catch(() => '');
  let code = `HTTP_${res.status}`;
  let message = text.slice(0, 500) || res.statusText;
  let details: unknown;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
    details = body.error?.details;
  } catch {
    // Not the registry's JSON error body (a proxy, a crash): keep the text.
  }
  return new RegistryError(res.status, code, `${what}: ${res.status} ${code}: ${message}`, details);
}
