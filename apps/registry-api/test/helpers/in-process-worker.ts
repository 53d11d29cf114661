/**
 * A real trainer-worker in the test process, wired to a test registry the way the launcher wires
 * one: the same Redis, the registry's blob directory, a service key, and the queues under test.
 * Short progress and cancel intervals keep the job e2e tests fast.
 */
import { parseWorkerConfig, startTrainerWorker, type TrainerWorker } from '@palette/trainer-worker';
import type { TestApp } from '../../src/testing';

export interface InProcessWorkerOptions {
  readonly redisUrl: string;
  /** The registry's base URL (results are posted to its internal route). */
  readonly registryUrl: string;
  readonly serviceKey: string;
  /** The worker's scratch directory. */
  readonly dataDir: string;
  /** WORKER_QUEUES: comma-separated job kinds. */
  readonly queues: string;
  readonly progressIntervalMs: number;
  /** WORKER_CANCEL_POLL_MS; the worker's default when absent. */
  readonly cancelPollMs?: number;
  /** Receives every worker log line (for failure messages); dropped when absent. */
  readonly log?: string[];
}

export async function startInProcessWorker(t: TestApp, o: InProcessWorkerOptions): Promise<TrainerWorker> {
  const config = parseWorkerConfig({
    REDIS_URL: o.redisUrl,
    DATA_DIR: o.dataDir,
    BLOB_STORE: 'dir',
    BLOB_DIR: t.config.blobStore.driver === 'dir' ? t.config.blobStore.root : '',
    REGISTRY_URL: o.registryUrl,
    SERVICE_KEY: o.serviceKey,
    WORKER_QUEUES: o.queues,
    WORKER_PROGRESS_INTERVAL_MS: String(o.progressIntervalMs),
    ...(o.cancelPollMs !== undefined ? { WORKER_CANCEL_POLL_MS: String(o.cancelPollMs) } : {}),
    WORKER_INTRA_OP_THREADS: '1',
  });
  const log = o.log;
  const worker = await startTrainerWorker(config, { echo: log ? (line) => void log.push(line) : () => undefined });
  await worker.waitUntilReady();
  return worker;
}
