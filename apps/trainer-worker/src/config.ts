/**
 * The worker's configuration, parsed once at start-up from the environment. Start-up fails with
 * ONE error naming every bad variable, rather than the first one or a crash later.
 *
 *   REDIS_URL                    redis://[user:pass@]host:port[/db] (default redis://127.0.0.1:6379)
 *   DATA_DIR                     working files and the default blob directory (default .data)
 *   BLOB_STORE, BLOB_DIR, S3_*   the object store (see @palette/object-store blobStoreOptionsFromEnv)
 *   REGISTRY_URL, SERVICE_KEY    where results are registered; both or neither (neither: results
 *                                stay in BullMQ's return value only)
 *   SERVICE_KEY_FILE             instead of SERVICE_KEY: a file holding the key (the launcher's key file)
 *   WORKER_QUEUES                comma-separated kinds to consume (default: all)
 *   WORKER_CONCURRENCY_<KIND>    jobs of that kind at once in this process (default 1)
 *   WORKER_MAX_CONCURRENT_JOBS   cap across all queues in this process (default 1)
 *   WORKER_LOCK_DURATION_MS      BullMQ job lock; a crashed worker's job is recovered after it lapses (default 30000)
 *   WORKER_STALLED_INTERVAL_MS   how often stalled jobs are looked for (default 30000)
 *   WORKER_MAX_STALLED_COUNT     recoveries before a job fails as stalled (default 3)
 *   WORKER_PROGRESS_INTERVAL_MS  least time between progress updates of a job (default 2000)
 *   WORKER_CANCEL_POLL_MS        how often cancellation requests are checked (default 1000)
 *   WORKER_INTRA_OP_THREADS      onnxruntime threads per session (default: onnxruntime's choice)
 *   WORKER_DEVICE                onnxruntime device: cpu (default), cuda, webgpu
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { JOB_KINDS, isJobKind, type JobKind } from '@palette/job-contracts';
import { EnvReader } from '@palette/config-env';
import { blobStoreOptionsFromEnv, type BlobStoreOptions } from '@palette/object-store';
import { WorkerError } from './errors';

export interface RegistryConfig {
  readonly url: string;
  readonly serviceKey: string;
}

export interface WorkerConfig {
  readonly redisUrl: string;
  readonly dataDir: string;
  /** Per-job scratch directories live under here. */
  readonly workDir: string;
  readonly blobStore: BlobStoreOptions;
  readonly registry: RegistryConfig | undefined;
  readonly queues: readonly JobKind[];
  readonly concurrency: Readonly<Record<JobKind, number>>;
  readonly maxConcurrentJobs: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
  readonly progressIntervalMs: number;
  readonly cancelPollMs: number;
  readonly intraOpThreads: number | undefined;
  readonly device: string | undefined;
}

export function parseWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const vars = new EnvReader(env);
  // No upper bounds here: problems read "must be an integer ≥ N".
  const integer = (name: string, fallback: number, min: number): number => vars.integer(name, fallback, min);

  const redisUrl = env.REDIS_URL || 'redis://127.0.0.1:6379';
  try {
    const u = new URL(redisUrl);
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') vars.problem(`REDIS_URL must start with redis:// or rediss://, got ${JSON.stringify(redisUrl)}`);
  } catch {
    vars.problem(`REDIS_URL is not a URL: ${JSON.stringify(redisUrl)}`);
  }
  const dataDir = path.resolve(env.DATA_DIR || '.data');

  const blobStore: BlobStoreOptions = vars.attempt(() => blobStoreOptionsFromEnv(env, dataDir)) ?? { driver: 'dir', root: path.join(dataDir, 'blobs') };

  let registry: RegistryConfig | undefined;
  const registryUrl = env.REGISTRY_URL || undefined;
  let serviceKey = env.SERVICE_KEY || undefined;
  if (serviceKey === undefined && env.SERVICE_KEY_FILE) {
    try {
      serviceKey = readFileSync(env.SERVICE_KEY_FILE, 'utf8').trim() || undefined;
      if (serviceKey === undefined) vars.problem(`SERVICE_KEY_FILE ${env.SERVICE_KEY_FILE} is empty`);
    } catch (e) {
      vars.problem(`SERVICE_KEY_FILE cannot be read: ${(e as Error).message}`);
    }
  }
  if ((registryUrl === undefined) !== (serviceKey === undefined)) {
    vars.problem('REGISTRY_URL and SERVICE_KEY must be set together (or neither, to keep results in the queue only)');
  } else if (registryUrl !== undefined && serviceKey !== undefined) {
    try {
      const u = new URL(registryUrl);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
      registry = { url: registryUrl.replace(/\/+$/, ''), serviceKey };
    } catch {
      vars.problem(`REGISTRY_URL must be an http(s) URL, got ${JSON.stringify(registryUrl)}`);
    }
  }

  let queues: JobKind[] = [...JOB_KINDS];
  if (env.WORKER_QUEUES) {
    const names = env.WORKER_QUEUES.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = names.filter((n) => !isJobKind(n));
    if (unknown.length > 0 || names.length === 0) vars.problem(`WORKER_QUEUES must list kinds from ${JOB_KINDS.join(', ')}, got ${JSON.stringify(env.WORKER_QUEUES)}`);
    else queues = [...new Set(names as JobKind[])];
  }
  const concurrency = Object.fromEntries(JOB_KINDS.map((k) => [k, integer(`WORKER_CONCURRENCY_${k.toUpperCase()}`, 1, 1)])) as Record<JobKind, number>;

  const config: WorkerConfig = {
    redisUrl,
    dataDir,
    workDir: path.join(dataDir, 'worker'),
    blobStore,
    registry,
    queues,
    concurrency,
    maxConcurrentJobs: integer('WORKER_MAX_CONCURRENT_JOBS', 1, 1),
    lockDurationMs: integer('WORKER_LOCK_DURATION_MS', 30_000, 1000),
    stalledIntervalMs: integer('WORKER_STALLED_INTERVAL_MS', 30_000, 500),
    maxStalledCount: integer('WORKER_MAX_STALLED_COUNT', 3, 0),
    progressIntervalMs: integer('WORKER_PROGRESS_INTERVAL_MS', 2000, 0),
    cancelPollMs: integer('WORKER_CANCEL_POLL_MS', 1000, 50),
    intraOpThreads: vars.optionalInteger('WORKER_INTRA_OP_THREADS', 1),
    device: env.WORKER_DEVICE || undefined,
  };
  vars.failIfAny((problems) => new WorkerError('CONFIG_INVALID', `invalid worker environment: ${problems.join('; ')}`));
  return config;
}
