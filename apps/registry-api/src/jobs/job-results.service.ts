import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedKey } from '../auth';
import { TempWorkspace } from '../catalog/uploads/temp-workspace';
import { AppLogger, domainErrors } from '../common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DatabaseService, type Tx } from '../database';
import type { Prisma } from '../generated/prisma/client';
import type { JobResultRegistrationDto } from './job.dto';
import type { ParsedJobResult } from './job-result.input';
import { ResultAlreadyRegistered, type JobForResult, type RegisteredResult, type ResultContext } from './kinds/job-kind-handler';
import { JobInputs } from './kinds/job-inputs';

/**
 * Registers a finished job's result, exactly once per job id (the idempotency key), for every kind:
 * the kind's handler writes what the result registers and, IN THE SAME TRANSACTION, calls
 * ResultContext.finish, which locks the Job row, refuses when another call got there first (the
 * transaction rolls back) and sets Job.registeredAt / registered / result / adapterVersionId. So a
 * crash can never leave "registered but not marked" behind, and a repeat answers 200 with the first
 * registration and creates nothing.
 */
@Injectable()
export class JobResultsService {
  constructor(
    private readonly db: DatabaseService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly inputs: JobInputs,
    private readonly logger: AppLogger,
  ) {}

  async register(jobId: string, submission: ParsedJobResult, actor: AuthenticatedKey): Promise<JobResultRegistrationDto> {
    const row = await this.db.prisma.job.findUnique({
      where: { id: jobId },
      include: { baseModel: { select: { id: true, name: true } }, dataset: { select: { id: true, sha256: true } } },
    });
    if (!row) throw domainErrors.notFound('job', jobId);
    if (row.kind !== submission.kind) throw domainErrors.validation(`job ${jobId} is a ${row.kind} job, not ${submission.kind}`, { job: jobId });
    if (row.registeredAt !== null) return this.answer(jobId, false);
    if (row.status === 'cancelled' || row.cancelRequestedAt !== null) {
      throw domainErrors.conflict(`job ${jobId} was cancelled; its result is not registered`, { job: jobId });
    }
    const job: JobForResult = {
      id: row.id,
      kind: submission.kind,
      payload: row.payload,
      registration: row.registration,
      baseModel: row.baseModel,
      dataset: row.dataset,
      metricHistory: row.metricHistory,
    };
    const workspace = await TempWorkspace.create(this.config.tmpDir, 'job-result');
    try {
      const finish = (tx: Tx, registered: RegisteredResult): Promise<void> => this.finish(tx, jobId, registered, submission.raw, actor);
      const ctx: ResultContext = {
        job,
        actor,
        workspace,
        copyBlob: (label, file) => this.inputs.copyBlob(workspace, label, file),
        finish,
        commit: (write) =>
          this.db.transaction(async (tx) => {
            const registered = await write(tx);
            await finish(tx, registered);
            return registered;
          }),
      };
      const registered = await submission.handler.registerResult(submission.parsed, ctx);
      this.logger.info({ jobId, kind: submission.kind, registered: registered.name ?? registered.type }, 'job result registered');
      return this.answer(jobId, true);
    } catch (err) {
      if (err instanceof ResultAlreadyRegistered) return this.answer(jobId, false);
      // A concurrent repeat committed first and our attempt then failed on what it wrote (e.g. the
      // output base model name is now taken): that repeat is answered like any other.
      const now = await this.db.prisma.job.findUnique({ where: { id: jobId }, select: { registeredAt: true } });
      if (now?.registeredAt) return this.answer(jobId, false);
      throw err;
    } finally {
      await workspace.dispose();
    }
  }

  /** Locks the Job row and marks the result registered; throws ResultAlreadyRegistered when it already is. */
  private async finish(tx: Tx, jobId: string, registered: RegisteredResult, raw: unknown, actor: AuthenticatedKey): Promise<void> {
    const [locked] = await tx.$queryRaw<Array<{ registeredAt: Date | null; status: string; cancelRequestedAt: Date | null }>>`
      SELECT "registeredAt", "status"::text AS "status", "cancelRequestedAt" FROM "Job" WHERE "id" = ${jobId} FOR UPDATE`;
    if (!locked) throw domainErrors.notFound('job', jobId);
    if (locked.registeredAt !== null) throw new ResultAlreadyRegistered(jobId);
    // Cancelled while the blobs were being checked: register nothing (the transaction rolls back).
    if (locked.status === 'cancelled' || locked.cancelRequestedAt !== null) throw domainErrors.conflict(`job ${jobId} was cancelled; its result is not registered`, { job: jobId });
    const { adapterVersionId, ...shown } = registered;
    await tx.job.update({
      where: { id: jobId },
      data: {
        registeredAt: new Date(),
        registered: { ...shown, ...(adapterVersionId !== undefined ? { adapterVersionId } : {}) } as Prisma.InputJsonObject,
        result: raw as Prisma.InputJsonValue,
        ...(adapterVersionId !== undefined ? { adapterVersionId } : {}),
      },
    });
    await this.audit.record(tx, { actor: actor.id, action: 'job.result.register', entityType: 'job', entityId: jobId, details: { type: registered.type, id: registered.id ?? null, name: registered.name ?? null } });
  }

  private async answer(jobId: string, created: boolean): Promise<JobResultRegistrationDto> {
    const row = await this.db.prisma.job.findUniqueOrThrow({ where: { id: jobId }, select: { registered: true, adapterVersion: { select: { id: true, version: true, adapter: { select: { name: true } } } } } });
    const v = row.adapterVersion;
    return { jobId, adapterVersion: v ? `${v.adapter.name}@v${v.version}` : null, adapterVersionId: v?.id ?? null, registered: row.registered ?? null, created };
  }
}
