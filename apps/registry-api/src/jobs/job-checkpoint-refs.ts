import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import { isSha256, type CheckpointManifest, type CheckpointRef } from '@palette/job-contracts';
import { AppLogger } from '../common';
import { DatabaseService } from '../database';
import { BLOB_STORE } from '../storage/blob-store.provider';

/** BlobRef.ownerType of a job's checkpoint blobs; ownerId is the job id. */
export const JOB_CHECKPOINT_OWNER = 'job-checkpoint';

/**
 * How long a terminal job keeps its checkpoint: a failed or cancelled job can be retried and
 * resumes from it for this long (as long as a cancellation key lives: job-contracts CANCEL_TTL).
 */
export const CHECKPOINT_RETENTION_MS = 7 * 24 * 3_600_000;
const SWEEP_INTERVAL_MS = 3_600_000;
/** A manifest is a few hundred bytes; anything far larger is not one. */
const MAX_MANIFEST_BYTES = 1 << 20;

/**
 * Keeps a job's latest checkpoint out of blob GC. The worker cannot touch the database, but every
 * checkpoint it stores is announced in the job's BullMQ progress (`progress.checkpoint`), which the
 * mirror already receives: on each new checkpoint this writes BlobRefs (owner `job-checkpoint`, id =
 * job id) for the manifest and every file it names, replacing those of the previous checkpoint (only
 * the latest is ever resumed from). Between the worker's put and this ref the GC grace period
 * protects the blobs (they are young). The refs are released CHECKPOINT_RETENTION_MS after the job is
 * terminal, by an hourly sweep (and `releaseExpired` for tests/ops); then GC may take the blobs.
 */
@Injectable()
export class JobCheckpointRefs implements OnApplicationBootstrap, OnModuleDestroy {
  /** jobId → manifest last retained, so progress updates without a new checkpoint cost no query. */
  private readonly retained = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly logger: AppLogger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      void this.releaseExpired().catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'releasing expired job checkpoints failed'));
    }, SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** References the checkpoint's blobs for the job (idempotent); called by the mirror per progress update. */
  async retain(jobId: string, ref: CheckpointRef): Promise<void> {
    if (this.retained.get(jobId) === ref.manifest) return;
    const existing = await this.db.prisma.blobRef.findFirst({ where: { ownerType: JOB_CHECKPOINT_OWNER, ownerId: jobId, sha256: ref.manifest }, select: { id: true } });
    if (!existing) {
      const manifest = await this.readManifest(ref.manifest);
      if (manifest.jobId !== jobId || manifest.step !== ref.step) {
        this.logger.warn({ jobId, manifest: ref.manifest, step: ref.step }, 'checkpoint manifest names another job or step; not retained');
        return;
      }
      const shas = [...new Set([ref.manifest, ...Object.values(manifest.files).filter(isSha256)])];
      await this.db.transaction(async (tx) => {
        await tx.blobRef.deleteMany({ where: { ownerType: JOB_CHECKPOINT_OWNER, ownerId: jobId, sha256: { notIn: shas } } });
        await tx.blobRef.createMany({ data: shas.map((sha256) => ({ sha256, ownerType: JOB_CHECKPOINT_OWNER, ownerId: jobId })), skipDuplicates: true });
      });
    }
    this.retained.set(jobId, ref.manifest);
    if (this.retained.size > 10_000) this.retained.delete(this.retained.keys().next().value as string);
  }

  /** Drops the checkpoint refs of jobs terminal for longer than `retentionMs` (or gone); returns how many refs went. */
  async releaseExpired(options: { now?: number; retentionMs?: number } = {}): Promise<number> {
    const cutoff = new Date((options.now ?? Date.now()) - (options.retentionMs ?? CHECKPOINT_RETENTION_MS));
    const released = await this.db.prisma.$executeRaw`DELETE FROM "BlobRef" r WHERE r."ownerType" = ${JOB_CHECKPOINT_OWNER}
      AND NOT EXISTS (SELECT 1 FROM "Job" j WHERE j."id" = r."ownerId"
        AND (j."status" IN ('queued', 'running') OR j."finishedAt" IS NULL OR j."finishedAt" > ${cutoff}))`;
    if (released > 0) {
      this.retained.clear();
      this.logger.info({ released, cutoff: cutoff.toISOString() }, 'released checkpoint blob refs of finished jobs');
    }
    return released;
  }

  private async readManifest(sha256: string): Promise<CheckpointManifest> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of await this.blobs.get(sha256)) {
      size += (chunk as Buffer).length;
      if (size > MAX_MANIFEST_BYTES) throw new Error(`checkpoint manifest ${sha256} is over ${MAX_MANIFEST_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CheckpointManifest;
    if (value.formatVersion !== 1 || typeof value.files !== 'object' || value.files === null) throw new Error(`blob ${sha256} is not a checkpoint manifest`);
    return value;
  }
}
