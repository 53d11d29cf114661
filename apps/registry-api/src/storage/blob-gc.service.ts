import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore, GcResult } from '@palette/object-store';
import { AuditService } from '../audit/audit.service';
import { AppLogger } from '../common/logging/app-logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DatabaseService } from '../database/database.service';
import { BLOB_STORE } from './blob-store.provider';

export interface BlobGcReport extends GcResult {
  graceMs: number;
}

/**
 * Deletes blobs no BlobRef names once they are older than the grace period. Whoever stores a blob
 * must insert its BlobRef (in the same transaction as the row that uses it) within the grace
 * period; a blob written by an upload still in flight is protected by its age alone.
 */
@Injectable()
export class BlobGcService {
  constructor(
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
    private readonly logger: AppLogger,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async collect(actor: string | null, options: { graceMs?: number; now?: number } = {}): Promise<BlobGcReport> {
    const graceMs = options.graceMs ?? this.config.blobGcGraceMs;
    // One query up front rather than one per blob; a reference added after this snapshot belongs
    // to a blob young enough for the grace period to protect.
    const referenced = new Set((await this.db.prisma.blobRef.findMany({ select: { sha256: true }, distinct: ['sha256'] })).map((r) => r.sha256));
    const result = await this.blobs.gc(referenced, { graceMs, ...(options.now === undefined ? {} : { now: options.now }) });
    await this.db.transaction((tx) =>
      this.audit.record(tx, {
        actor,
        action: 'blob.gc',
        entityType: 'BlobStore',
        entityId: this.blobs.description,
        details: { deleted: result.deleted, kept: result.kept, graceMs },
      }),
    );
    this.logger.info({ deleted: result.deleted.length, kept: result.kept, graceMs }, 'blob garbage collection finished');
    return { ...result, graceMs };
  }
}
