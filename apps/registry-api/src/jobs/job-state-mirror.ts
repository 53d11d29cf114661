import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { Job as BullJob, QueueEvents } from 'bullmq';
import { readJobProgress, type JobKind, type JobProgress } from '@palette/job-contracts';
import { AppLogger } from '../common';
import { DatabaseService } from '../database';
import { JobCheckpointRefs } from './job-checkpoint-refs';
import { JobQueues } from './job-queues';
import { KeyedSerial } from './keyed-serial';

/** A failed job whose reason starts with this was cancelled (the worker's convention). */
export const CANCELLED_PREFIX = 'cancelled:';

/**
 * Keeps Job rows in step with BullMQ: QueueEvents' active, progress, completed, failed and removed
 * events update status, progress, the metric history and the result, so list and filter work from
 * the database. Terminal rows are never moved back by a late event (a retry puts the row back to
 * queued first). At start-up, rows that are still queued/running are reconciled with BullMQ's
 * state, covering events missed while the registry was down.
 */
@Injectable()
export class JobStateMirror implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly serial = new KeyedSerial();
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly db: DatabaseService,
    private readonly queues: JobQueues,
    private readonly logger: AppLogger,
    private readonly checkpoints: JobCheckpointRefs,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    for (const [kind, events] of this.queues.allEvents()) this.listen(kind, events);
    if (this.queues.enabled) void this.reconcile().catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'job mirror reconciliation failed'));
  }

  async onModuleDestroy(): Promise<void> {
    for (const off of this.detach) off();
    await this.serial.idle();
  }

  /** Resolves when every event received so far is written (tests use it to read settled rows). */
  settled(): Promise<void> {
    return this.serial.idle();
  }

  /** Resolves when every event of `jobId` received so far is written. */
  settledFor(jobId: string): Promise<void> {
    return this.serial.idleFor(jobId);
  }

  private listen(kind: JobKind, events: QueueEvents): void {
    const on = <A extends { jobId: string }>(name: 'active' | 'progress' | 'completed' | 'failed' | 'removed', apply: (args: A) => Promise<void>): void => {
      const handler = (args: A): void => {
        void this.serial.run(args.jobId, () => apply(args)).catch((err: unknown) => this.logger.warn({ err: (err as Error).message, jobId: args.jobId, event: name, kind }, 'job mirror update failed'));
      };
      events.on(name, handler as never);
      this.detach.push(() => events.off(name, handler as never));
    };
    on<{ jobId: string }>('active', ({ jobId }) => this.markRunning(jobId));
    on<{ jobId: string; data: unknown }>('progress', ({ jobId, data }) => this.recordProgress(jobId, data));
    on<{ jobId: string; returnvalue: unknown }>('completed', ({ jobId, returnvalue }) => this.markCompleted(jobId, parseMaybeJson(returnvalue)));
    on<{ jobId: string; failedReason: string }>('failed', ({ jobId, failedReason }) => this.markFailed(jobId, failedReason));
    on<{ jobId: string }>('removed', ({ jobId }) => this.markRemoved(jobId));
  }

  private async markRunning(jobId: string): Promise<void> {
    await this.db.prisma.$executeRaw`UPDATE "Job" SET "status" = 'running'::"JobStatus", "startedAt" = COALESCE("startedAt", now()), "updatedAt" = now()
      WHERE "id" = ${jobId} AND "status" IN ('queued', 'running')`;
  }

  /** Stores the latest progress and appends a metric point when a training step advanced past the last one recorded. */
  async recordProgress(jobId: string, data: unknown): Promise<void> {
    const progress = readJobProgress(data);
    if (!progress) return;
    const point = metricPoint(progress);
    const pointJson = point === null ? null : JSON.stringify([point]);
    await this.db.prisma.$executeRaw`UPDATE "Job" SET
        "progress" = ${JSON.stringify(progress)}::jsonb,
        "metricHistory" = CASE
          WHEN ${pointJson}::jsonb IS NOT NULL AND (jsonb_array_length("metricHistory") = 0 OR ("metricHistory"->-1->>'step')::int < ${progress.step})
          THEN "metricHistory" || ${pointJson}::jsonb ELSE "metricHistory" END,
        "status" = CASE WHEN "status" = 'queued' THEN 'running'::"JobStatus" ELSE "status" END,
        "startedAt" = COALESCE("startedAt", now()),
        "updatedAt" = now()
      WHERE "id" = ${jobId} AND "status" IN ('queued', 'running')`;
    if (progress.checkpoint !== undefined) {
      // A failure here must not stop the mirror: the next progress update retries it, and the GC grace period covers the gap.
      await this.checkpoints.retain(jobId, progress.checkpoint).catch((err: unknown) => this.logger.warn({ err: (err as Error).message, jobId }, 'checkpoint blob refs not written'));
    }
  }

  private async markCompleted(jobId: string, result: unknown): Promise<void> {
    await this.db.prisma.$executeRaw`UPDATE "Job" SET "status" = 'succeeded'::"JobStatus", "result" = ${JSON.stringify(result ?? null)}::jsonb,
        "error" = NULL, "finishedAt" = now(), "updatedAt" = now()
      WHERE "id" = ${jobId} AND "status" IN ('queued', 'running')`;
  }

  private async markFailed(jobId: string, reason: string): Promise<void> {
    const status = reason.startsWith(CANCELLED_PREFIX) ? 'cancelled' : 'failed';
    await this.db.prisma.$executeRaw`UPDATE "Job" SET "status" = ${status}::"JobStatus", "error" = ${reason}, "finishedAt" = now(), "updatedAt" = now()
      WHERE "id" = ${jobId} AND "status" IN ('queued', 'running')`;
  }

  private async markRemoved(jobId: string): Promise<void> {
    await this.db.prisma.$executeRaw`UPDATE "Job" SET "status" = 'cancelled'::"JobStatus", "error" = COALESCE("error", 'cancelled: removed from the queue'),
        "finishedAt" = now(), "updatedAt" = now()
      WHERE "id" = ${jobId} AND "status" IN ('queued', 'running')`;
  }

  /** Brings queued/running rows up to BullMQ's current state. */
  async reconcile(): Promise<void> {
    const open = await this.db.prisma.job.findMany({ where: { status: { in: ['queued', 'running'] } }, select: { id: true, kind: true } });
    for (const row of open) {
      const kind = row.kind as JobKind;
      await this.serial.run(row.id, async () => {
        const job: BullJob | undefined = await this.queues.queue(kind).getJob(row.id);
        if (!job) {
          await this.markFailed(row.id, 'the job is no longer in the queue (Redis lost it or it was removed)');
          return;
        }
        const state = await job.getState();
        if (job.progress !== undefined) await this.recordProgress(row.id, job.progress);
        if (state === 'active') await this.markRunning(row.id);
        else if (state === 'completed') await this.markCompleted(row.id, job.returnvalue);
        else if (state === 'failed') await this.markFailed(row.id, job.failedReason ?? 'failed');
      });
    }
  }
}

function metricPoint(p: JobProgress): Record<string, number | string | null> | null {
  if (p.phase !== 'training' || p.loss === null) return null;
  return { step: p.step, loss: p.loss, evalLoss: p.evalLoss ?? null, learningRate: p.learningRate, tokensPerSecond: p.tokensPerSecond, at: p.updatedAt };
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}
