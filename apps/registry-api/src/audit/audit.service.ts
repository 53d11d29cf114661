import { Injectable } from '@nestjs/common';
import type { Tx } from '../database/database.service';
import type { Prisma } from '../generated/prisma/client';

export interface AuditEntry {
  /** The API key id that acted; null for the system itself (bootstrap, background jobs). */
  actor: string | null;
  /** Dotted verb, e.g. 'api_key.create', 'adapter.version.create', 'blob.gc'. */
  action: string;
  entityType: string;
  entityId: string;
  details?: Prisma.InputJsonObject;
}

/**
 * Appends to AuditLog. Takes the caller's transaction so the audit row commits or rolls back
 * together with the change it describes: call it inside db.transaction() of every mutation.
 */
@Injectable()
export class AuditService {
  async record(tx: Tx, entry: AuditEntry): Promise<void> {
    await tx.auditLog.create({
      data: {
        actorKeyId: entry.actor,
        action: entry.action,
        entityType: entry.entityType,
        entityId: entry.entityId,
        details: entry.details ?? {},
      },
    });
  }
}
