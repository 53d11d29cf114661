import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Queue, QueueEvents, RedisConnection } from 'bullmq';
import { JOB_KINDS, QUEUE_NAMES, requestJobCancellation, cancelKey, type JobKind } from '@palette/job-contracts';
import { AppLogger, domainErrors } from '../common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { redisConnectionOptions } from '@palette/job-contracts';

interface Connected {
  readonly queues: ReadonlyMap<JobKind, Queue>;
  readonly events: ReadonlyMap<JobKind, QueueEvents>;
  /** Every Redis connection the queues and listeners opened, so shutdown can drop them. */
  readonly connections: ReadonlySet<DroppableConnection>;
}

/** How long shutdown waits for the queues to close cleanly before dropping their connections. */
export const QUEUE_CLOSE_TIMEOUT_MS = 2_000;

/**
 * BullMQ's RedisConnection with a way to drop the socket. Why: the connections retry forever
 * (maxRetriesPerRequest: null), so with Redis gone a clean close() waits forever: Queue.close sends
 * QUIT, which sits in ioredis's offline queue, and QueueEvents.close first waits for a connection
 * that never became ready. Dropping stops the reconnect timers and sockets, so the app (and the
 * process) can exit.
 */
class DroppableConnection extends RedisConnection {
  drop(): void {
    this._client.disconnect();
  }
}

/** A DroppableConnection class that records each instance BullMQ constructs in `into`. */
function trackedConnections(into: Set<DroppableConnection>): typeof RedisConnection {
  return class extends DroppableConnection {
    constructor(...args: ConstructorParameters<typeof RedisConnection>) {
      super(...args);
      into.add(this);
    }
  };
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
    const connections = new Set<DroppableConnection>();
    const Connection = trackedConnections(connections);
    for (const kind of JOB_KINDS) {
      const queue = new Queue(QUEUE_NAMES[kind], { connection }, Connection);
      const listener = new QueueEvents(QUEUE_NAMES[kind], { connection }, Connection);
      // ioredis reconnects by itself; an unhandled 'error' event would crash the process instead.
      queue.on('error', (err) => this.logger.warn({ err: err.message, queue: QUEUE_NAMES[kind] }, 'job queue connection error'));
      listener.on('error', (err) => this.logger.warn({ err: err.message, queue: QUEUE_NAMES[kind] }, 'job events connection error'));
      queues.set(kind, queue);
      events.set(kind, listener);
    }
    this.connected = { queues, events, connections };
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

  /** Closes cleanly when Redis answers; after QUEUE_CLOSE_TIMEOUT_MS drops the connections instead (a dead Redis). */
  async onModuleDestroy(): Promise<void> {
    if (!this.connected) return;
    const { events, queues, connections } = this.connected;
    const closing = (async () => {
      await Promise.allSettled([...events.values()].map((e) => e.close()));
      await Promise.allSettled([...queues.values()].map((q) => q.close()));
    })();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), QUEUE_CLOSE_TIMEOUT_MS);
    });
    const stuck = await Promise.race([closing.then(() => false), timedOut]);
    clearTimeout(timer);
    if (!stuck) return;
    this.logger.warn({ timeoutMs: QUEUE_CLOSE_TIMEOUT_MS }, 'Redis did not answer while the job queues closed: dropping their connections');
    // Not awaiting `closing` after this: a QUIT queued while ioredis was between reconnect attempts
    // is never settled by a disconnect, but nothing is left to keep the process alive either.
    for (const connection of connections) connection.drop();
  }
}
