import * as path from 'node:path';
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
  const problems: string[] = [];
  const text = (name: string, fallback: string): string => {
    const value = env[name];
    return value === undefined || value === '' ? fallback : value;
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  };
  const absolute = (p: string): string => path.resolve(cwd, p);

  const host = text('HOST', '127.0.0.1');
  const port = integer('PORT', 8080, 0, 65535);
  const dataDir = absolute(text('DATA_DIR', './.data'));

  let database: AppConfig['database'] = { kind: 'pglite', dataDir: path.join(dataDir, 'pglite') };
  const databaseUrl = env.DATABASE_URL;
  if (databaseUrl !== undefined && databaseUrl !== '') {
    if (!/^postgres(ql)?:\/\//.test(databaseUrl)) problems.push('DATABASE_URL must start with postgres:// or postgresql://');
    else database = { kind: 'postgres', url: databaseUrl };
  }

  let blobStore: BlobStoreOptions = { driver: 'dir', root: path.join(dataDir, 'blobs') };
  try {
    const options = blobStoreOptionsFromEnv(env, dataDir);
    blobStore = options.driver === 'dir' ? { ...options, root: absolute(options.root) } : options;
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }

  const maxUploadBytes = integer('MAX_UPLOAD_BYTES', 4 * GIB, 1, Number.MAX_SAFE_INTEGER);
  const maxConfigBytes = integer('MAX_CONFIG_BYTES', 1 * MIB, 1, 64 * MIB);
  const maxJsonBodyBytes = integer('MAX_JSON_BODY_BYTES', 2 * MIB, 1024, 256 * MIB);

  const modelImportRoots = text('MODEL_IMPORT_ROOTS', '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map(absolute);

  const bootstrapKeyFile = env.BOOTSTRAP_KEY_FILE ? absolute(env.BOOTSTRAP_KEY_FILE) : undefined;

  const logLevelRaw = text('LOG_LEVEL', 'info');
  const logLevel = LOG_LEVELS.find((level) => level === logLevelRaw);
  if (!logLevel) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevelRaw)}`);

  const tmpDir = absolute(text('TMP_DIR', path.join(dataDir, 'tmp')));
  const keyLastUsedWriteIntervalMs = integer('KEY_LAST_USED_WRITE_INTERVAL_MS', 60_000, 0, 24 * 3_600_000);
  const keyCacheTtlMs = integer('KEY_CACHE_TTL_MS', 5_000, 0, 3_600_000);
  const transactionTimeoutMs = integer('DB_TRANSACTION_TIMEOUT_MS', 30_000, 100, 3_600_000);
  const blobGcGraceMs = integer('BLOB_GC_GRACE_MS', 24 * 3_600_000, 0, 365 * 24 * 3_600_000);
  const maxDatasetBytes = integer('MAX_DATASET_BYTES', 256 * MIB, 1, Number.MAX_SAFE_INTEGER);

  const redisUrl = env.REDIS_URL === undefined || env.REDIS_URL === '' ? undefined : env.REDIS_URL;
  if (redisUrl !== undefined && !/^rediss?:\/\/[^/]/.test(redisUrl)) problems.push(`REDIS_URL must be a redis:// or rediss:// URL, got ${JSON.stringify(redisUrl)}`);

  if (problems.length > 0) throw new ConfigError(problems);
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
