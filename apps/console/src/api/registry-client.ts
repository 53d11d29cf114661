import { ApiError, buildUrl, requestJson, send } from './http';
import { readSse, type SseEvent } from './sse';
import type {
  Adapter,
  AdapterPage,
  AdapterUploadResult,
  AdapterVersion,
  ApiKey,
  Artifact,
  ArtifactPage,
  BaseModel,
  EmbeddingSpace,
  CreatedApiKey,
  Dataset,
  JobDetail,
  JobLogs,
  JobPage,
  JobSubmitResult,
  Job,
  Lineage,
  Me,
  QueuesHealth,
  Readiness,
  Role,
  RouterCache,
  RouterModel,
  SearchResult,
} from './types';

export interface AdapterListFilter {
  readonly baseModel?: string;
  readonly tag?: string;
  readonly namePrefix?: string;
  readonly sort?: 'name' | 'createdAt' | 'updatedAt';
  readonly order?: 'asc' | 'desc';
  readonly limit?: number;
  readonly cursor?: string;
}

export interface TextSearch {
  readonly q?: string;
  readonly tag?: string;
  readonly baseModel?: string;
  readonly limit?: number;
}

/**
 * POST /api/v1/jobs body: `kind` plus that kind's fields (apps/registry-api/src/jobs/README.md).
 * The registry validates every field and answers 400 naming them, so the console sends what the
 * operator entered and shows those answers at the fields.
 */
export interface JobSubmission {
  readonly kind: string;
  readonly [field: string]: unknown;
}

export interface ArtifactListFilter {
  readonly kind?: string;
  readonly name?: string;
  readonly baseModel?: string;
  /** name@vN: a discriminator's companion adapter version. */
  readonly adapterVersion?: string;
  readonly limit?: number;
  readonly cursor?: string;
}

export interface AdapterVectorSearch {
  readonly q: string;
  readonly baseModel?: string;
  /** comma-separated; every tag must match */
  readonly tags?: string;
  readonly k?: number;
}

const enc = encodeURIComponent;

/**
 * Typed client for registry-api's REST routes (written by hand from its controllers) plus the
 * GraphQL `me` query, all authenticated with one API key.
 */
export class RegistryClient {
  constructor(readonly key: string) {}

  /** GraphQL: who the key belongs to. 401 means the key is wrong or revoked. */
  async me(): Promise<Me> {
    const res = await requestJson<{ data?: { me?: Me }; errors?: { message: string; extensions?: { code?: string; status?: number } }[] }>(this.key, '/graphql', {
      method: 'POST',
      body: { query: 'query Me { me { id name role } }' },
    });
    const first = res.errors?.[0];
    if (first !== undefined || res.data?.me === undefined) {
      throw new ApiError(first?.extensions?.status ?? 401, first?.extensions?.code ?? 'UNAUTHENTICATED', first?.message ?? 'The key was not accepted.');
    }
    return res.data.me;
  }

  // --- adapters -----------------------------------------------------------------------------
  listAdapters(filter: AdapterListFilter = {}, signal?: AbortSignal): Promise<AdapterPage> {
    return requestJson(this.key, '/api/v1/adapters', { query: { ...filter }, signal });
  }
  search(query: TextSearch, signal?: AbortSignal): Promise<SearchResult> {
    return requestJson(this.key, '/api/v1/search', { query: { ...query }, signal });
  }
  /** Text → adapters in the base's learned embedding space; 409 when the base has no active space. */
  searchAdapters(query: AdapterVectorSearch, signal?: AbortSignal): Promise<SearchResult> {
    return requestJson(this.key, '/api/v1/search/adapters', { query: { ...query }, signal });
  }
  similar(name: string, version = 'latest', limit = 6): Promise<SearchResult> {
    return requestJson(this.key, `/api/v1/adapters/${enc(name)}/similar`, { query: { version, limit } });
  }
  adapter(name: string): Promise<Adapter> {
    return requestJson(this.key, `/api/v1/adapters/${enc(name)}`);
  }
  versions(name: string): Promise<AdapterVersion[]> {
    return requestJson(this.key, `/api/v1/adapters/${enc(name)}/versions`);
  }
  lineage(name: string, ref: string): Promise<Lineage> {
    return requestJson(this.key, `/api/v1/adapters/${enc(name)}/versions/${enc(ref)}/lineage`);
  }
  /** Multipart: name, baseModel, description, tags, adapter_config, adapter_model (or bundle). */
  uploadAdapter(form: FormData): Promise<AdapterUploadResult> {
    return requestJson(this.key, '/api/v1/adapters', { method: 'POST', body: form });
  }
  setAlias(name: string, alias: string, version: string): Promise<Adapter> {
    return requestJson(this.key, `/api/v1/adapters/${enc(name)}/aliases/${enc(alias)}`, { method: 'PUT', body: { version } });
  }
  removeAlias(name: string, alias: string): Promise<Adapter> {
    return requestJson(this.key, `/api/v1/adapters/${enc(name)}/aliases/${enc(alias)}`, { method: 'DELETE' });
  }
  /** The raw bytes of one version file (adapter_model.safetensors, adapter_config.json, README.md). */
  async versionFile(name: string, ref: string, file: string, signal?: AbortSignal): Promise<ArrayBuffer> {
    const res = await send(this.key, `/api/v1/adapters/${enc(name)}/versions/${enc(ref)}/files/${enc(file)}`, { headers: { accept: '*/*' }, signal });
    return res.arrayBuffer();
  }
  /** Downloads need the key header, so the file is fetched and handed to the browser as a blob. */
  async downloadBundle(name: string, ref: string): Promise<{ blob: Blob; fileName: string }> {
    const res = await send(this.key, `/api/v1/adapters/${enc(name)}/versions/${enc(ref)}/bundle`, { headers: { accept: '*/*' } });
    const disposition = res.headers.get('content-disposition') ?? '';
    const fileName = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `${name}-${ref}.tar.gz`;
    return { blob: await res.blob(), fileName };
  }

  // --- base models, datasets --------------------------------------------------------------------
  baseModels(): Promise<BaseModel[]> {
    return requestJson(this.key, '/api/v1/base-models');
  }
  baseModel(name: string): Promise<BaseModel> {
    return requestJson(this.key, `/api/v1/base-models/${enc(name)}`);
  }
  datasets(): Promise<Dataset[]> {
    return requestJson(this.key, '/api/v1/datasets', { query: { limit: 100 } });
  }
  uploadDataset(form: FormData): Promise<{ dataset: Dataset; created: boolean }> {
    return requestJson(this.key, '/api/v1/datasets', { method: 'POST', body: form });
  }

  // --- jobs --------------------------------------------------------------------------------------
  jobs(query: { status?: string; limit?: number } = {}): Promise<JobPage> {
    return requestJson(this.key, '/api/v1/jobs', { query: { ...query } });
  }
  job(id: string): Promise<JobDetail> {
    return requestJson(this.key, `/api/v1/jobs/${enc(id)}`);
  }
  jobLogs(id: string, start = 0, limit = 500): Promise<JobLogs> {
    return requestJson(this.key, `/api/v1/jobs/${enc(id)}/logs`, { query: { start, limit } });
  }
  submitJob(spec: JobSubmission, idempotencyKey?: string): Promise<JobSubmitResult> {
    return requestJson(this.key, '/api/v1/jobs', { method: 'POST', body: spec, headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {} });
  }
  cancelJob(id: string): Promise<Job> {
    return requestJson(this.key, `/api/v1/jobs/${enc(id)}/cancel`, { method: 'POST', body: { reason: 'cancelled from the console' } });
  }
  retryJob(id: string): Promise<Job> {
    return requestJson(this.key, `/api/v1/jobs/${enc(id)}/retry`, { method: 'POST', body: {} });
  }
  /** Live events of one job (`state`, `progress`, then `completed` / `failed` / `cancelled`) until it ends. */
  async followJob(id: string, onEvent: (event: SseEvent) => void, signal: AbortSignal): Promise<void> {
    const res = await send(this.key, `/api/v1/jobs/${enc(id)}/events`, { headers: { accept: 'text/event-stream' }, signal });
    await readSse(res, onEvent, signal);
  }

  // --- artifacts and retrieval ----------------------------------------------------------------
  artifacts(filter: ArtifactListFilter = {}, signal?: AbortSignal): Promise<ArtifactPage> {
    return requestJson(this.key, '/api/v1/artifacts', { query: { ...filter }, signal });
  }
  artifactById(id: string): Promise<Artifact> {
    return requestJson(this.key, `/api/v1/artifacts/id/${enc(id)}`);
  }
  /** One artifact file's bytes as a blob (the route needs the key header, so no plain link). */
  async downloadArtifactFile(id: string, path: string): Promise<Blob> {
    const res = await send(this.key, `/api/v1/artifacts/id/${enc(id)}/files/${enc(path)}`, { headers: { accept: '*/*' } });
    return res.blob();
  }
  embeddingSpaces(baseModel?: string): Promise<EmbeddingSpace[]> {
    return requestJson(this.key, '/api/v1/embedding-spaces', { query: { baseModel } });
  }

  // --- keys --------------------------------------------------------------------------------------
  keys(): Promise<ApiKey[]> {
    return requestJson(this.key, '/api/v1/keys');
  }
  createKey(name: string, role: Role): Promise<CreatedApiKey> {
    return requestJson(this.key, '/api/v1/keys', { method: 'POST', body: { name, role } });
  }
  revokeKey(id: string): Promise<ApiKey> {
    return requestJson(this.key, `/api/v1/keys/${enc(id)}`, { method: 'DELETE' });
  }

  // --- health ------------------------------------------------------------------------------------
  /** /readyz answers 503 with the same body when a dependency is down. */
  async readiness(): Promise<Readiness> {
    const res = await fetch(buildUrl('/readyz'), { headers: { accept: 'application/json' } });
    return (await res.json()) as Readiness;
  }

  /** BullMQ job counts by state and connected workers per queue; `redis: 'unconfigured'` without REDIS_URL. */
  queuesHealth(): Promise<QueuesHealth> {
    return requestJson(this.key, '/api/v1/system/queues');
  }

  // --- router, through the registry's gateway (/api/v1/router) ----------------------------------
  routerModels(): Promise<{ data: RouterModel[] }> {
    return requestJson(this.key, '/api/v1/router/v1/models');
  }
  routerCache(): Promise<RouterCache> {
    return requestJson(this.key, '/api/v1/router/v1/lora_adapters');
  }
  async routerReady(): Promise<{ ok: boolean; detail: string }> {
    try {
      const res = await send(this.key, '/api/v1/router/readyz');
      return { ok: true, detail: await res.text() };
    } catch (error) {
      return { ok: false, detail: error instanceof Error ? error.message : String(error) };
    }
  }
  /** POST /v1/completions with stream: true; one event per chunk, `[DONE]` last. */
  async streamCompletion(body: Record<string, unknown>, onEvent: (event: SseEvent) => void, signal: AbortSignal): Promise<void> {
    const res = await send(this.key, '/api/v1/router/v1/completions', { method: 'POST', body: { ...body, stream: true }, headers: { accept: 'text/event-stream' }, signal });
    await readSse(res, onEvent, signal);
  }
}
