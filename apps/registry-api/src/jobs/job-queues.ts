import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Queue, QueueEvents } from 'bullmq';
import { JOB_KINDS, QUEUE_NAMES, requestJobCancellation, cancelKey, type JobKind } from '@palette/job-contracts';
import { AppLogger, domainErrors } from '../common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { redisConnectionOptions } from '@palette/job-contracts';

interface Connected {
  readonly queues: ReadonlyMap<JobKind, Queue>;
  readonly events: ReadonlyMap<JobKind, QueueEvents>;
}

/**
 * The registry's side of BullMQ: one Queue (producer) and one QueueEvents (listener) per job kind,
 * opened when REDIS_URL is set. Without it every accessor throws SERVICE_UNAVAILABLE, so the job
 * routes answer 503 with a clear message and the rest of the registry works.
 */
@Injectable()
export class JobQueues implements OnModuleDestroy {
  private readonly connected: Connected | undefined;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly logger: AppLogger,
  ) {
    if (config.redisUrl === undefined) return;
    const connection = redisConnectionOptions(config.redisUrl);
    const queues = new Map<JobKind, Queue>();
    const events = new Map<JobKind, QueueEvents>();
    for (const kind of JOB_KINDS) {
      const queue = new Queue(QUEUE_NAMES[kind], { connection });
      const listener = new QueueEvents(QUEUE_NAMES[kind], { connection });
      // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
      queue.on('error', (err) => this.logger.warn({ err: err.message, queue: QUEUE_NAMES[kind] }, 'job queue connection error'));
      listener.on('error', (err) => this.logger.warn({ err: err.message, queue: QUEUE_NAMES[kind] }, 'job events connection error'));
      queues.set(kind, queue);
      events.set(kind, listener);
    }
    this.connected = { queues, events };
  }

  get enabled(): boolean {
    return this.connected !== undefined;
  }

  queue(kind: JobKind): Queue {
    return this.require().queues.get(kind) as Queue;
  }

  events(kind: JobKind): QueueEvents {
    return this.require().events.get(kind) as QueueEvents;
  }

  /** Every kind's QueueEvents (empty without Redis). */
  allEvents(): ReadonlyArray<readonly [JobKind, QueueEvents]> {
    return this.connected ? [...this.connected.events] : [];
  }

  /** Throws SERVICE_UNAVAILABLE when the job API has no Redis. */
  require(): Connected {
    if (!this.connected) throw domainErrors.unavailable('the job API is not available: REDIS_URL is not configured on this registry');
    return this.connected;
  }

  /** Asks the worker running `jobId` to stop (job-contracts' cross-process cancellation key). */
  async requestCancellation(kind: JobKind, jobId: string, reason: string): Promise<void> {
    await requestJobCancellation(await this.queue(kind).client, jobId, reason);
  }

  /** Removes a pending cancellation so a retried job is not stopped by the request that ended its last attempt. */
  async clearCancellation(kind: JobKind, jobId: string): Promise<void> {
    await (await this.queue(kind).client).del(cancelKey(jobId));
  }

  async onModuleDestroy(): Promise<void> {
    if (!this.connected) return;
    await Promise.allSettled([...this.connected.events.values()].map((e) => e.close()));
    await Promise.allSettled([...this.connected.queues.values()].map((q) => q.close()));
  }
}
