/**
 * The worker process: one BullMQ Worker per consumed queue, a global cap on jobs running at once
 * across them, cancellation delivery, result registration, and graceful shutdown.
 *
 * A job's life here: wait for a global slot → validate its payload (a bad payload fails at once,
 * never retried) → refuse it if a cancellation is pending → run the kind's processor → store the
 * final progress → register the result (idempotent by job id) → return the result to BullMQ.
 * Cancelled jobs fail without retry and register nothing. On shutdown, running jobs checkpoint
 * and are moved back to the waiting list, so another worker resumes them at once.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import {
  JobContractError,
  QUEUE_NAMES,
  parseJobPayload,
  readJobProgress,
  type JobKind,
  type JobPayloads,
  type JobResults,
} from '@palette/job-contracts';
import { createBlobStore, type BlobStore } from '@palette/object-store';
import { CancellationWatcher } from './cancellation-watcher';
import type { WorkerConfig } from './config';
import { JobCancelledError, JobInterruptedError, WorkerError } from './errors';
import { GlobalSlots } from './global-slots';
import type { JobContext, ProcessorTable } from './job-context';
import { createJobLogger } from './job-logger';
import { PROCESSORS } from './processors';
import { ProgressReporter } from './progress-reporter';
import { redisConnectionOptions } from '@palette/job-contracts';
import { HttpResultSink, type ResultSink } from './result-sink';

export interface TrainerWorkerDeps {
  /** Default: the store the config names. */
  readonly store?: BlobStore;
  /** Default: HttpResultSink when the config has a registry, else none. */
  readonly resultSink?: ResultSink | null;
  /** Default: PROCESSORS. */
  readonly processors?: ProcessorTable;
  /** Process log lines (default stdout). */
  readonly echo?: (line: string) => void;
}

export interface TrainerWorker {
  readonly workers: ReadonlyMap<JobKind, Worker>;
  /** Resolves when every worker is connected to Redis. */
  waitUntilReady(): Promise<void>;
  /**
   * Graceful stop: no new jobs; running training jobs checkpoint at the next step boundary and
   * go back to the queue; other jobs are handed back as they are. Then the connections close.
   */
  shutdown(): Promise<void>;
}

type AnyJob = Job<JobPayloads[JobKind], JobResults[JobKind], string>;

export async function startTrainerWorker(config: WorkerConfig, deps: TrainerWorkerDeps = {}): Promise<TrainerWorker> {
  const echo = deps.echo ?? ((line: string) => process.stdout.write(line + '\n'));
  const store = deps.store ?? createBlobStore(config.blobStore);
  await store.ping();
  const sink = deps.resultSink === undefined ? (config.registry !== undefined ? new HttpResultSink(config.registry) : null) : deps.resultSink;
  if (sink === null) echo('trainer-worker: no REGISTRY_URL/SERVICE_KEY: results are kept in BullMQ only (not registered)');
  const processors = deps.processors ?? PROCESSORS;
  const shutdownController = new AbortController();
  const workers = new Map<JobKind, Worker>();

  const setFetching = (on: boolean): void => {
    if (shutdownController.signal.aborted) return;
    for (const w of workers.values()) {
      if (on) w.resume();
      // doNotWaitActive: stop fetching now; running jobs go on.
      else void w.pause(true);
    }
  };
  const slots = new GlobalSlots(config.maxConcurrentJobs, { onFull: () => setFetching(false), onFree: () => setFetching(true) });

  const connection = redisConnectionOptions(config.redisUrl);
  const watcher = new CancellationWatcher({
    read: async (keys) => {
      const client = await (workers.values().next().value as Worker).client;
      // A handful of keys (one per running job in this process): plain GETs are enough.
      return Promise.all(keys.map((k) => client.get(k)));
    },
    cancel: (jobId, reason) => {
      for (const w of workers.values()) w.cancelJob(jobId, reason);
    },
    pollMs: config.cancelPollMs,
    onError: (e) => echo(`trainer-worker: cancellation poll failed: ${(e as Error).message}`),
  });

  async function runJob<K extends JobKind>(kind: K, job: AnyJob, token: string | undefined, signal: AbortSignal): Promise<JobResults[K]> {
    const jobId = job.id;
    if (jobId === undefined) throw new UnrecoverableError('job has no id');
    const log = createJobLogger(jobId, kind, (line) => job.log(line), echo);
    let payload: JobPayloads[K];
    try {
      payload = parseJobPayload(kind, job.data);
    } catch (e) {
      if (e instanceof JobContractError) {
        log.error(e.message);
        await log.flush();
        throw new UnrecoverableError(e.message);
      }
      throw e;
    }
    const pendingCancel = await watcher.pending(jobId);
    if (pendingCancel !== undefined) {
      log.warn(`not started: ${pendingCancel}`);
      await log.flush();
      throw new UnrecoverableError(new JobCancelledError(pendingCancel).message);
    }
    const previous = readJobProgress(job.progress);
    const progress = new ProgressReporter((p) => job.updateProgress(p), config.progressIntervalMs, previous?.checkpoint?.step, previous?.checkpoint);
    const scratchDir = path.join(config.workDir, `${kind}-${jobId}`);
    await fsp.rm(scratchDir, { recursive: true, force: true });
    await fsp.mkdir(scratchDir, { recursive: true });
    watcher.track(jobId);
    const ctx: JobContext<K> = {
      jobId,
      kind,
      payload,
      store,
      scratchDir,
      cancelSignal: signal,
      shutdownSignal: shutdownController.signal,
      progress,
      log,
      previous,
      runtime: { ...(config.device !== undefined ? { device: config.device } : {}), ...(config.intraOpThreads !== undefined ? { intraOpThreads: config.intraOpThreads } : {}) },
    };
    log.info(`started (attempt ${job.attemptsMade + 1}${previous?.checkpoint !== undefined ? `, checkpoint at step ${previous.checkpoint.step}` : ''})`);
    try {
      const processor = processors[kind] as (c: JobContext<K>) => Promise<JobResults[K]>;
      const result = await processor(ctx);
      // A cancellation that arrived during the last phase still wins: no result.
      if (signal.aborted) throw new JobCancelledError(String(signal.reason ?? 'cancelled by request'));
      const totalSteps = progress.latest?.totalSteps ?? 0;
      progress.update({ phase: 'completed', step: totalSteps, totalSteps });
      await progress.flush();
      if (sink !== null) {
        await sink.submit({ jobId, kind, result });
        log.info(`result registered via ${sink.description}`);
      }
      log.info('completed');
      return result;
    } catch (e) {
      if (e instanceof JobCancelledError) {
        log.warn(e.message);
        throw new UnrecoverableError(e.message);
      }
      if (e instanceof JobInterruptedError) {
        log.info(`${e.message}; back to the queue`);
        await progress.flush().catch(() => undefined);
        await job.moveToWait(token);
        throw new WaitingError();
      }
      log.error(`failed: ${(e as Error).message}`);
      throw e instanceof WorkerError && e.code === 'INPUT_INVALID' ? new UnrecoverableError(e.message) : e;
    } finally {
      watcher.untrack(jobId);
      await log.flush();
      await fsp.rm(scratchDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  for (const kind of config.queues) {
    // BullMQ passes the AbortSignal only to processors declaring three parameters (it checks fn.length).
    const processor = async (job: AnyJob, token: string | undefined, signal: AbortSignal | undefined): Promise<JobResults[JobKind]> => {
      const release = await slots.acquire();
      try {
        return await runJob(kind, job, token, signal ?? new AbortController().signal);
      } finally {
        release();
      }
    };
    const worker = new Worker<JobPayloads[JobKind], JobResults[JobKind], string>(QUEUE_NAMES[kind], processor, {
      connection,
      concurrency: Math.min(config.concurrency[kind], config.maxConcurrentJobs),
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      maxStalledCount: config.maxStalledCount,
      autorun: true,
    });
    worker.on('error', (e) => echo(`trainer-worker: ${kind} worker error: ${e.message}`));
    workers.set(kind, worker);
  }

  let closing: Promise<void> | undefined;
  return {
    workers,
    async waitUntilReady() {
      await Promise.all([...workers.values()].map((w) => w.waitUntilReady()));
    },
    shutdown() {
      closing ??= (async () => {
        shutdownController.abort('worker shutting down');
        watcher.stop();
        // close() stops fetching and waits for running processors, which now checkpoint and hand back.
        await Promise.all([...workers.values()].map((w) => w.close()));
      })();
      return closing;
    },
  };
}
