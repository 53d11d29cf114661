import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { EnvReader } from '@palette/config-env';
import { blobStoreOptionsFromEnv, type BlobStoreOptions } from '@palette/object-store';

/** Injection token of the validated RouterConfig. */
export const ROUTER_CONFIG = Symbol('ROUTER_CONFIG');

/** The router's whole configuration, parsed and validated once at start-up. */
export interface RouterConfig {
  readonly host: string;
  readonly port: number;
  readonly registry: {
    /** registry-api base URL, e.g. http://127.0.0.1:8080 (no trailing slash). */
    readonly url: string;
    /** A reader or service key. */
    readonly apiKey: string;
    /** How long a resolved alias/latest reference (adapter@prod → v3) is trusted before asking again. */
    readonly refTtlMs: number;
    readonly timeoutMs: number;
  };
  /** Absolute. Base model files fetched from the registry are kept below it (models/). */
  readonly dataDir: string;
  /**
   * Where to read blobs directly by sha256 (skipping the registry's HTTP file routes), or undefined to
   * always download through the registry. Set ADAPTER_SOURCE=registry to force HTTP.
   */
  readonly blobStore: BlobStoreOptions | undefined;
  readonly adapterCacheBytes: number;
  /** Adapters (adapter[@ref], for the default base) loaded and pinned at start-up. */
  readonly preloadAdapters: readonly string[];
  /** Rows decoded together per forward pass. */
  readonly maxBatch: number;
  /** Requests waiting for a batch slot before new ones get 429. */
  readonly maxQueue: number;
  /** Retry-After (seconds) sent with 429. */
  readonly retryAfterSeconds: number;
  readonly defaultBaseModel: string | undefined;
  /** Upper bound on max_tokens. */
  readonly maxTokensLimit: number;
  /** onnxruntime device for the models: cpu (default), cuda, webgpu. */
  readonly device: string;
  /** When set, every /v1 route needs `Authorization: Bearer <key>` (or x-api-key). */
  readonly apiKey: string | undefined;
}

/** Thrown by loadRouterConfig; `problems` names every bad variable. */
export class RouterConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid router configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'RouterConfigError';
  }
}

const MIB = 1024 ** 2;

/** Parses the environment, collecting every problem before throwing. */
export function loadRouterConfig(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): RouterConfig {
  // The router words ranges as intervals ("in [1, 1024]"), as it always has.
  const vars = new EnvReader(env, { rangeWording: 'interval' });

  const registryUrl = vars.text('REGISTRY_URL', '').replace(/\/+$/, '');
  if (registryUrl === '') vars.problem('REGISTRY_URL is required (the registry-api base URL, e.g. http://127.0.0.1:8080)');
  else if (!/^https?:\/\/[^/]+/.test(registryUrl)) vars.problem(`REGISTRY_URL must be an http(s) URL, got ${JSON.stringify(registryUrl)}`);
  let apiKey = vars.text('REGISTRY_API_KEY', '');
  const keyFile = vars.text('REGISTRY_API_KEY_FILE', '');
  if (apiKey === '' && keyFile !== '') {
    // The local launcher hands over the registry's bootstrap key file instead of the key itself.
    try {
      apiKey = readFileSync(path.resolve(cwd, keyFile), 'utf8').trim();
    } catch (error) {
      vars.problem(`REGISTRY_API_KEY_FILE ${keyFile} cannot be read: ${(error as Error).message}`);
    }
  }
  if (apiKey === '' && keyFile === '') vars.problem('REGISTRY_API_KEY (or REGISTRY_API_KEY_FILE) is required: a reader or service key of the registry');

  const dataDir = path.resolve(cwd, vars.text('DATA_DIR', '.data'));
  const source = vars.text('ADAPTER_SOURCE', 'blob-store');
  let blobStore: BlobStoreOptions | undefined;
  if (source === 'blob-store') {
    blobStore = vars.attempt(() => blobStoreOptionsFromEnv(env, dataDir));
  } else if (source !== 'registry') {
    vars.problem(`ADAPTER_SOURCE must be blob-store or registry, got ${JSON.stringify(source)}`);
  }
  const maxBatch = vars.integer('MAX_BATCH', 32, 1, 1024);
  const preload = vars.list('PRELOAD_ADAPTERS');

  const config: RouterConfig = {
    host: vars.text('HOST', '127.0.0.1'),
    port: vars.integer('PORT', 8090, 0, 65535),
    registry: {
      url: registryUrl,
      apiKey,
      refTtlMs: vars.integer('ADAPTER_REF_TTL_MS', 5000, 0, 24 * 3600 * 1000),
      timeoutMs: vars.integer('REGISTRY_TIMEOUT_MS', 30_000, 100, 600_000),
    },
    dataDir,
    blobStore,
    adapterCacheBytes: vars.integer('ADAPTER_CACHE_BYTES', 512 * MIB, 1, Number.MAX_SAFE_INTEGER),
    preloadAdapters: preload,
    maxBatch,
    maxQueue: vars.integer('MAX_QUEUE', 256, 0, 1_000_000),
    retryAfterSeconds: vars.integer('RETRY_AFTER_SECONDS', 1, 1, 3600),
    defaultBaseModel: vars.text('DEFAULT_BASE_MODEL', '') || undefined,
    maxTokensLimit: vars.integer('MAX_TOKENS_LIMIT', 4096, 1, 1_000_000),
    device: vars.text('DEVICE', 'cpu'),
    apiKey: vars.text('ROUTER_API_KEY', '') || undefined,
  };
  if (preload.length > 0 && config.defaultBaseModel === undefined) vars.problem('PRELOAD_ADAPTERS needs DEFAULT_BASE_MODEL (the base they are loaded for)');
  vars.failIfAny((problems) => new RouterConfigError(problems));
  return config;
}
