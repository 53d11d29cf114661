import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { JobKind } from '@palette/job-contracts';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedKey } from '../auth';
import type { StoredTempFile } from '../catalog/uploads/hashing-file-writer';
import { AppLogger, domainErrors } from '../common';
import { DatabaseService } from '../database';
import type { Prisma } from '../generated/prisma/client';
import { JobQueues } from './job-queues';
import type { JobSubmission } from './job-submit.input';
import { JobsService } from './jobs.service';
import type { JobDto } from './job.dto';
import type { PreparedJob } from './kinds/job-kind-handler';
import { JobKindRegistry } from './kinds/job-kind-registry';

export interface SubmitResult {
  readonly job: JobDto;
  /** false when the idempotency key named an existing job (it is returned, nothing is enqueued). */
  readonly created: boolean;
}

/**
 * Submitting a job, the same for every kind: an idempotency key that names an existing job returns
 * it; otherwise the kind's handler checks EVERYTHING (so bad input is a 4xx now and never a failed
 * job later) and builds the payload; then the Job row is written and the job enqueued on the kind's
 * queue with jobId = idempotency key.
 */
@Injectable()
export class JobSubmissionService {
  constructor(
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
    private readonly queues: JobQueues,
    private readonly jobs: JobsService,
    readonly kinds: JobKindRegistry,
    private readonly logger: AppLogger,
  ) {}

  async submit(submission: JobSubmission, upload: StoredTempFile | undefined, actor: AuthenticatedKey): Promise<SubmitResult> {
    this.queues.require();
    const jobId = submission.idempotencyKey ?? randomUUID();
    if (submission.idempotencyKey !== undefined) {
      const existing = await this.db.prisma.job.findUnique({ where: { id: jobId }, select: { id: true } });
      if (existing) return { job: await this.jobs.get(jobId), created: false };
    }
    const kind = submission.kind as JobKind;
    const prepare = submission.handler.submission?.prepare;
    if (!prepare) throw domainErrors.validation(`kind: ${kind} jobs are not submittable`);
    const prepared = (await prepare(submission.spec, { jobId, actor, upload })) as PreparedJob<JobKind>;

    const created = await this.createRow(jobId, kind, prepared, actor);
    if (!created) return { job: await this.jobs.get(jobId), created: false };
    try {
      await this.queues.queue(kind).add(kind, prepared.payload, { jobId, attempts: 1, removeOnComplete: false, removeOnFail: false });
    } catch (err) {
      await this.db.transaction((tx) => tx.job.update({ where: { id: jobId }, data: { status: 'failed', error: `enqueueing failed: ${(err as Error).message}`, finishedAt: new Date() } }));
      throw domainErrors.unavailable(`job ${jobId} could not be enqueued: ${(err as Error).message}`, err);
    }
    this.logger.info({ jobId, kind, ...prepared.audit }, 'job submitted');
    return { job: await this.jobs.get(jobId), created: true };
  }

  /** Inserts the Job row; false when a concurrent submission with the same key won. */
  private async createRow(jobId: string, kind: JobKind, prepared: PreparedJob<JobKind>, actor: AuthenticatedKey): Promise<boolean> {
    try {
      await this.db.transaction(async (tx) => {
        await tx.job.create({
          data: {
            id: jobId,
            kind,
            status: 'queued',
            payload: prepared.payload as unknown as Prisma.InputJsonObject,
            attempts: 1,
            baseModelId: prepared.baseModelId,
            datasetId: prepared.datasetId,
            registration: prepared.registration,
          },
        });
        await this.audit.record(tx, { actor: actor.id, action: 'job.submit', entityType: 'job', entityId: jobId, details: { kind, ...prepared.audit } });
      });
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'P2002') return false;
      throw err;
    }
  }
}
