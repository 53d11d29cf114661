import { Injectable } from '@nestjs/common';
import { parseLogLine, isJobKind, type JobKind } from '@palette/job-contracts';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedKey } from '../auth';
import { domainErrors } from '../common';
import { DatabaseService } from '../database';
import { Prisma } from '../generated/prisma/client';
import { JobQueues } from './job-queues';
import { JOB_INCLUDE, toJobDetailDto, toJobDto, type JobRow } from './job-mapper';
import type { JobDetailDto, JobDto, JobLogsDto, JobPageDto } from './job.dto';
import { encodeCursor, type JobListQuery } from './list-jobs.input';

/** BullMQ states in which a job has not started and can simply be removed. */
const NOT_STARTED = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children', 'paused', 'wait']);
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/**
 * Reading jobs (from the database mirror, so list/filter never touch Redis), their logs (from
 * BullMQ), cancelling and retrying.
 *
 * Retry keeps the job id, which is the idempotency key: the retried attempt resumes from the
 * last checkpoint in the job's progress, and its result registers under the same key, so a job
 * that already registered an adapter version never registers a second one.
 */
@Injectable()
export class JobsService {
  constructor(
    private readonly db: DatabaseService,
    private readonly queues: JobQueues,
    private readonly audit: AuditService,
  ) {}

  async list(query: JobListQuery): Promise<JobPageDto> {
    const where: Prisma.JobWhereInput = {
      ...(query.statuses.length > 0 ? { status: { in: [...query.statuses] } } : {}),
      ...(query.kind ? { kind: query.kind } : {}),
      ...(query.baseModel ? { baseModel: { name: query.baseModel } } : {}),
      ...(query.dataset ? { dataset: /^[0-9a-f]{64}$/.test(query.dataset) ? { sha256: query.dataset } : { id: query.dataset } } : {}),
      ...(query.adapter ? { registration: { path: ['adapter'], equals: query.adapter } } : {}),
      ...(query.cursor
        ? { OR: [{ createdAt: { lt: query.cursor.createdAt } }, { createdAt: query.cursor.createdAt, id: { gt: query.cursor.id } }] }
        : {}),
    };
    const rows = await this.db.prisma.job.findMany({ where, include: JOB_INCLUDE, orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return { items: page.map(toJobDto), nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  async get(id: string): Promise<JobDto> {
    return toJobDto(await this.load(id));
  }

  /** With the metric history (one point per reported training step). */
  async detail(id: string): Promise<JobDetailDto> {
    return toJobDetailDto(await this.load(id));
  }

  async load(id: string): Promise<JobRow> {
    const row = await this.db.prisma.job.findUnique({ where: { id }, include: JOB_INCLUDE });
    if (!row) throw domainErrors.notFound('job', id);
    return row;
  }

  async logs(id: string, startInput?: string, limitInput?: string): Promise<JobLogsDto> {
    const row = await this.load(id);
    const start = startInput === undefined ? 0 : Number(startInput);
    const limit = limitInput === undefined ? 500 : Number(limitInput);
    if (!Number.isInteger(start) || start < 0) throw domainErrors.validation(`start must be a non-negative integer, got ${JSON.stringify(startInput)}`);
    if (!Number.isInteger(limit) || limit < 1 || limit > 5000) throw domainErrors.validation(`limit must be an integer in [1, 5000], got ${JSON.stringify(limitInput)}`);
    const { logs, count } = await this.queues.queue(kindOf(row.kind)).getJobLogs(id, start, start + limit - 1, true);
    return { lines: logs.map((l) => { const line = parseLogLine(l); return { time: line.time, level: line.level, message: line.message, fields: line.fields ?? null }; }), total: count };
  }

  /**
   * Waiting → removed from the queue and marked cancelled at once. Active → a cancellation request
   * the running worker sees within its poll interval; the row turns cancelled when BullMQ reports
   * the job failed with "cancelled: …" (the worker registers nothing).
   */
  async cancel(id: string, actor: AuthenticatedKey, reason = 'cancelled by request'): Promise<JobDto> {
    const row = await this.load(id);
    if (TERMINAL.has(row.status)) throw domainErrors.conflict(`job ${id} is already ${row.status}`, { job: id, status: row.status });
    const kind = kindOf(row.kind);
    const job = await this.queues.queue(kind).getJob(id);
    const state = job ? await job.getState() : 'missing';
    if (job && NOT_STARTED.has(state)) {
      try {
        await job.remove();
        await this.finishCancelled(id, actor, reason);
        return this.get(id);
      } catch {
        // Picked up between getState and remove: it is active now, cancel it as such.
      }
    }
    if (state === 'missing') {
      await this.finishCancelled(id, actor, reason);
      return this.get(id);
    }
    if (state === 'completed' || state === 'failed') throw domainErrors.conflict(`job ${id} has already finished (${state})`, { job: id, state });
    await this.queues.requestCancellation(kind, id, reason);
    await this.db.transaction(async (tx) => {
      await tx.job.update({ where: { id }, data: { cancelRequestedAt: new Date() } });
      await this.audit.record(tx, { actor: actor.id, action: 'job.cancel', entityType: 'job', entityId: id, details: { state, reason } });
    });
    return this.get(id);
  }

  /** failed / cancelled → a new attempt under the same job id (resuming from its last checkpoint). */
  async retry(id: string, actor: AuthenticatedKey): Promise<JobDto> {
    const row = await this.load(id);
    if (row.status !== 'failed' && row.status !== 'cancelled') {
      throw domainErrors.conflict(`job ${id} is ${row.status}; only failed or cancelled jobs can be retried`, { job: id, status: row.status });
    }
    if (row.registeredAt !== null) throw domainErrors.conflict(`job ${id} already registered its result; retrying it would change nothing`, { job: id });
    const kind = kindOf(row.kind);
    const queue = this.queues.queue(kind);
    const job = await queue.getJob(id);
    const state = job ? await job.getState() : 'missing';
    if (job && state !== 'failed') throw domainErrors.conflict(`job ${id} is ${state} in the queue; only a failed or removed job can be retried`, { job: id, state });
    const previous = { status: row.status, error: row.error, finishedAt: row.finishedAt };
    // The row goes back to queued BEFORE BullMQ sees the job, so the mirror applies the new attempt's events.
    await this.db.transaction(async (tx) => {
      await tx.job.update({ where: { id }, data: { status: 'queued', error: null, finishedAt: null, cancelRequestedAt: null, result: Prisma.DbNull, attempts: { increment: 1 } } });
      await this.audit.record(tx, { actor: actor.id, action: 'job.retry', entityType: 'job', entityId: id, details: { previousStatus: row.status, attempt: row.attempts + 1 } });
    });
    try {
      await this.queues.clearCancellation(kind, id);
      if (job) await job.retry('failed');
      else await queue.add(kind, row.payload, { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });
    } catch (err) {
      await this.db.transaction((tx) => tx.job.update({ where: { id }, data: { ...previous, attempts: { decrement: 1 } } }));
      throw domainErrors.unavailable(`job ${id} could not be re-enqueued: ${(err as Error).message}`, err);
    }
    return this.get(id);
  }

  private async finishCancelled(id: string, actor: AuthenticatedKey, reason: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.job.update({ where: { id }, data: { status: 'cancelled', error: `cancelled: ${reason}`, cancelRequestedAt: new Date(), finishedAt: new Date() } });
      await this.audit.record(tx, { actor: actor.id, action: 'job.cancel', entityType: 'job', entityId: id, details: { state: 'waiting', reason } });
    });
  }
}

export function kindOf(kind: string): JobKind {
  if (!isJobKind(kind)) throw domainErrors.validation(`job kind ${JSON.stringify(kind)} is unknown`);
  return kind;
}
