import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable } from '@nestjs/common';
import type { QueueEvents } from 'bullmq';
import { readJobProgress, type JobKind } from '@palette/job-contracts';
import { JobQueues } from './job-queues';
import { CANCELLED_PREFIX, JobStateMirror } from './job-state-mirror';
import { JobsService, kindOf } from './jobs.service';

/**
 * Events of a job stream: `state` first (the current state), then `progress`, and one of
 * `completed`, `failed`, `cancelled` last; the final event's `job` is the row with that outcome.
 */
export type JobStreamEventName = 'state' | 'progress' | 'completed' | 'failed' | 'cancelled';

const HEARTBEAT_MS = 15_000;
const TERMINAL_ROW = new Set(['succeeded', 'failed', 'cancelled']);

/** Writes server-sent events to one response; `send` after `end` is ignored. */
class SseWriter {
  private nextId = 1;
  private ended = false;

  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.flushHeaders();
  }

  send(event: string, data: unknown): void {
    if (this.ended) return;
    this.res.write(`id: ${this.nextId++}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    if (!this.ended) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.res.end();
  }
}

/**
 * Live progress over server-sent events, from BullMQ's QueueEvents. The subscription starts
 * BEFORE the current state is read, and events that arrive meanwhile are held back, so the first
 * event is always the current state and nothing between it and the live events is lost. A job
 * stream ends after the job's final event (or at once when it has already finished). The final
 * event waits for the state mirror to write the outcome, so its `job` (and any read after it)
 * already shows the final status, result and registration.
 */
@Injectable()
export class JobEventStream {
  constructor(
    private readonly queues: JobQueues,
    private readonly jobs: JobsService,
    private readonly mirror: JobStateMirror,
  ) {}

  async streamJob(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const row = await this.jobs.load(id);
    const kind = kindOf(row.kind);
    const events = this.queues.events(kind);
    const queue = this.queues.queue(kind);

    const sse = new SseWriter(res);
    const held: Array<[JobStreamEventName, unknown]> = [];
    let live = false;
    let finishing = false;
    const emit = (name: JobStreamEventName, data: unknown): void => {
      if (!live) {
        held.push([name, data]);
        return;
      }
      if (finishing) return;
      if (name === 'progress' || name === 'state') return void sse.send(name, data);
      finishing = true;
      void this.settledRow(id).then((job) => {
        sse.send(name, { ...asObject(data), job });
        close();
      });
    };
    const detach = subscribe(events, (jobId) => jobId === id, (_jobId, name, data) => emit(name, data));
    const heartbeat = setInterval(() => sse.comment('keep-alive'), HEARTBEAT_MS);
    const close = (): void => {
      clearInterval(heartbeat);
      detach();
      sse.end();
    };
    req.on('close', close);

    const job = await queue.getJob(id);
    const bullState = job ? await job.getState() : 'missing';
    const fresh = await this.jobs.get(id);
    sse.send('state', { ...fresh, queueState: bullState, progress: readJobProgress(job?.progress) ?? fresh.progress });
    live = true;
    if (bullState === 'completed') return void emit('completed', { jobId: id, result: job?.returnvalue ?? null });
    if (bullState === 'failed') return void emit(job?.failedReason?.startsWith(CANCELLED_PREFIX) ? 'cancelled' : 'failed', { jobId: id, reason: job?.failedReason ?? '' });
    if (bullState === 'missing' && TERMINAL_ROW.has(fresh.status)) return void emit(fresh.status === 'succeeded' ? 'completed' : fresh.status === 'cancelled' ? 'cancelled' : 'failed', { jobId: id, reason: fresh.error });
    for (const [name, data] of held.splice(0)) emit(name, data);
  }

  /** The job's row once the mirror has written every event received so far (null if it cannot be read). */
  private async settledRow(id: string): Promise<unknown> {
    // The mirror's listener was attached at start-up, before this stream's: by the time a final
    // event reaches us its write is already queued, and settledFor waits for it.
    await this.mirror.settledFor(id);
    return this.jobs.detail(id).catch(() => null);
  }

  /** Every job's events, until the client disconnects (for the console's jobs page). */
  streamAll(req: IncomingMessage, res: ServerResponse): void {
    const all = this.queues.require().events;
    const sse = new SseWriter(res);
    const detach = [...all].map(([, events]) => subscribe(events, () => true, (jobId, name, data) => sse.send(name, { jobId, ...asObject(data) })));
    const heartbeat = setInterval(() => sse.comment('keep-alive'), HEARTBEAT_MS);
    req.on('close', () => {
      clearInterval(heartbeat);
      for (const off of detach) off();
      sse.end();
    });
    sse.send('state', { kinds: [...all.keys()] as JobKind[] });
  }
}

type Listener = (jobId: string, name: JobStreamEventName, data: unknown) => void;

/** Relays a QueueEvents' events for the jobs `accept` selects; returns the unsubscribe function. */
function subscribe(events: QueueEvents, accept: (jobId: string) => boolean, listener: Listener): () => void {
  const onProgress = ({ jobId, data }: { jobId: string; data: unknown }): void => {
    const progress = readJobProgress(data);
    if (accept(jobId) && progress) listener(jobId, 'progress', progress);
  };
  const onCompleted = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }): void => {
    if (accept(jobId)) listener(jobId, 'completed', { jobId, result: parseMaybeJson(returnvalue) });
  };
  const onFailed = ({ jobId, failedReason }: { jobId: string; failedReason: string }): void => {
    if (accept(jobId)) listener(jobId, failedReason.startsWith(CANCELLED_PREFIX) ? 'cancelled' : 'failed', { jobId, reason: failedReason });
  };
  const onRemoved = ({ jobId }: { jobId: string }): void => {
    if (accept(jobId)) listener(jobId, 'cancelled', { jobId, reason: 'removed from the queue' });
  };
  events.on('progress', onProgress);
  events.on('completed', onCompleted as never);
  events.on('failed', onFailed);
  events.on('removed', onRemoved as never);
  return () => {
    events.off('progress', onProgress);
    events.off('completed', onCompleted as never);
    events.off('failed', onFailed);
    events.off('removed', onRemoved as never);
  };
}

function asObject(data: unknown): Record<string, unknown> {
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : { data };
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}
