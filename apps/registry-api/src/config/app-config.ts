import * as path from 'node:path';
import { EnvReader } from '@palette/config-env';
import { blobStoreOptionsFromEnv, type BlobStoreOptions } from '@palette/object-store';

/** Injection token of the validated AppConfig. */
export const APP_CONFIG = Symbol('APP_CONFIG');

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** registry-api's whole configuration, parsed and validated once at start-up (see config/README.md). */
export interface AppConfig {
  host: string;
  port: number;
  /** Absolute. Everything the service persists lives below it unless overridden. */
  dataDir: string;
  database: { kind: 'pglite'; dataDir: string } | { kind: 'postgres'; url: string };
  blobStore: BlobStoreOptions;
  maxUploadBytes: number;
  maxConfigBytes: number;
  /** Largest JSON request body accepted (uploads stream as multipart and are not limited by this). */
  maxJsonBodyBytes: number;
  /** Absolute directories base models may be imported from; empty = server-side import disabled. */
  modelImportRoots: string[];
  bootstrapKeyFile: string | undefined;
  logLevel: LogLevel;
  tmpDir: string;
  /** An API key's lastUsedAt is written at most once per this interval. */
  keyLastUsedWriteIntervalMs: number;
  /**
   * How long a verified API key is served from memory. Revocation through this process takes
   * effect at once; other replicas (real Postgres) see it within this time.
   */
  keyCacheTtlMs: number;
  /** How long an interactive transaction may run before Prisma rolls it back. */
  transactionTimeoutMs: number;
  /** Unreferenced blobs younger than this survive garbage collection (uploads in flight). */
  blobGcGraceMs: number;
  /** BullMQ's Redis (redis:// or rediss://); undefined: the job API answers 503, everything else works. */
  redisUrl: string | undefined;
  /** Largest JSONL dataset accepted (uploads and job submissions). */
  maxDatasetBytes: number;
}

/** Thrown by loadConfig; `problems` names every bad variable, one entry each. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;

/**
 * Parses the environment into an AppConfig. Validation collects every problem before throwing,
 * so a bad deployment is fixed in one round instead of one variable per restart.
 */
export function loadConfig(env: NodeJS.ProcessEnv, cwd: string = process.cwd()): AppConfig {
  const vars = new EnvReader(env);
  const absolute = (p: string): string => path.resolve(cwd, p);

  const host = vars.text('HOST', '127.0.0.1');
  const port = vars.integer('PORT', 8080, 0, 65535);
  const dataDir = absolute(vars.text('DATA_DIR', './.data'));

  let database: AppConfig['database'] = { kind: 'pglite', dataDir: path.join(dataDir, 'pglite') };
  const databaseUrl = env.DATABASE_URL;
  if (databaseUrl !== undefined && databaseUrl !== '') {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) vars.problem('DATABASE_URL must start with postgres:// or postgresql://');
    else database = { kind: 'postgres', url: databaseUrl };
  }

  let blobStore: BlobStoreOptions = { driver: 'dir', root: path.join(dataDir, 'blobs') };
  const options = vars.attempt(() => blobStoreOptionsFromEnv(env, dataDir));
  if (options !== undefined) blobStore = options.driver === 'dir' ? { ...options, root: absolute(options.root) } : options;

  const maxUploadBytes = vars.integer('MAX_UPLOAD_BYTES', 4 * GIB, 1, Number.MAX_SAFE_INTEGER);
  const maxConfigBytes = vars.integer('MAX_CONFIG_BYTES', 1 * MIB, 1, 64 * MIB);
  const maxJsonBodyBytes = vars.integer('MAX_JSON_BODY_BYTES', 2 * MIB, 1024, 256 * MIB);

  const modelImportRoots = vars.list('MODEL_IMPORT_ROOTS').map(absolute);

  const bootstrapKeyFile = env.BOOTSTRAP_KEY_FILE ? absolute(env.BOOTSTRAP_KEY_FILE) : undefined;

  const logLevelRaw = vars.text('LOG_LEVEL', 'info');
  const logLevel = LOG_LEVELS.find((level) => level === logLevelRaw);
  if (!logLevel) vars.problem(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevelRaw)}`);

  const tmpDir = absolute(vars.text('TMP_DIR', path.join(dataDir, 'tmp')));
  const keyLastUsedWriteIntervalMs = vars.integer('KEY_LAST_USED_WRITE_INTERVAL_MS', 60_000, 0, 24 * 3_600_000);
  const keyCacheTtlMs = vars.integer('KEY_CACHE_TTL_MS', 5_000, 0, 3_600_000);
  const transactionTimeoutMs = vars.integer('DB_TRANSACTION_TIMEOUT_MS', 30_000, 100, 3_600_000);
  const blobGcGraceMs = vars.integer('BLOB_GC_GRACE_MS', 24 * 3_600_000, 0, 365 * 24 * 3_600_000);
  const maxDatasetBytes = vars.integer('MAX_DATASET_BYTES', 256 * MIB, 1, Number.MAX_SAFE_INTEGER);

  const redisUrl = vars.optionalText('REDIS_URL');
  if (redisUrl !== undefined && !/^rediss?:\/\/[^/]/.test(redisUrl)) vars.problem(`REDIS_URL must be a redis:// or rediss:// URL, got ${JSON.stringify(redisUrl)}`);

  vars.failIfAny((problems) => new ConfigError(problems));
  return {
    host,
    port,
    dataDir,
    database,
    blobStore,
    maxUploadBytes,
    maxConfigBytes,
    maxJsonBodyBytes,
    modelImportRoots,
    bootstrapKeyFile,
    logLevel: logLevel ?? 'info',
    tmpDir,
    keyLastUsedWriteIntervalMs,
    keyCacheTtlMs,
    transactionTimeoutMs,
    blobGcGraceMs,
    redisUrl,
    maxDatasetBytes,
  };
}
