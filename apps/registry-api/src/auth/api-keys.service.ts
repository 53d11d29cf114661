import { Inject, Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { domainErrors } from '../common/domain-error';
import { AppLogger } from '../common/logging/app-logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DatabaseService } from '../database/database.service';
import type { ApiKey } from '../generated/prisma/client';
import { generateApiKey, parseApiKey, secretMatches } from './api-key-format';
import type { AuthenticatedKey } from './authenticated-key';
import type { Role } from './roles';

export interface CreatedApiKey {
  key: ApiKey;
  /** The only time the full key exists outside the client. */
  plaintext: string;
}

const NAME_PATTERN = /^[\w .@:/-]{1,100}$/;

/** A key row as read for authentication, and when it was read. */
interface CachedKey {
  key: ApiKey;
  readAt: number;
}

@Injectable()
export class ApiKeysService {
  /**
   * Verified keys by publicId. A read costs one database round trip, which on the embedded
   * database runs on this process's event loop and would otherwise cap every route's throughput.
   * Only keys that exist are cached, so unknown ids cannot grow it.
   */
  private readonly verified = new Map<string, CachedKey>();

  constructor(
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
    private readonly logger: AppLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** actor: the key creating it, or null for the system (bootstrap). */
  async create(input: { name: string; role: Role }, actor: string | null): Promise<CreatedApiKey> {
    const name = input.name.trim();
    if (!NAME_PATTERN.test(name)) {
      throw domainErrors.validation('key name must be 1-100 characters of letters, digits, space and _ . @ : / -', { name: input.name });
    }
    const generated = generateApiKey();
    const key = await this.db.transaction(async (tx) => {
      const created = await tx.apiKey.create({
        data: { publicId: generated.publicId, name, role: input.role, secretHash: generated.secretHash },
      });
      await this.audit.record(tx, {
        actor,
        action: 'api_key.create',
        entityType: 'ApiKey',
        entityId: created.id,
        details: { name, role: input.role, publicId: generated.publicId },
      });
      return created;
    });
    this.logger.info({ keyId: key.id, name, role: input.role, actor }, 'api key created');
    return { key, plaintext: generated.plaintext };
  }

  async list(): Promise<ApiKey[]> {
    return this.db.prisma.apiKey.findMany({ orderBy: { createdAt: 'asc' } });
  }

  /** Idempotent: revoking a revoked key returns it unchanged (and audits nothing). */
  async revoke(id: string, actor: string | null): Promise<ApiKey> {
    return this.db.transaction(async (tx) => {
      const key = await tx.apiKey.findUnique({ where: { id } });
      if (!key) throw domainErrors.notFound('api key', id);
      if (key.revokedAt) return key;
      const revoked = await tx.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
      this.verified.delete(key.publicId);
      await this.audit.record(tx, {
        actor,
        action: 'api_key.revoke',
        entityType: 'ApiKey',
        entityId: id,
        details: { name: key.name, role: key.role, publicId: key.publicId },
      });
      return revoked;
    });
  }

  async count(): Promise<number> {
    return this.db.prisma.apiKey.count();
  }

  /**
   * The key behind a presented string, or null when it is malformed, unknown, revoked or wrong.
   * lastUsedAt is refreshed at most once per KEY_LAST_USED_WRITE_INTERVAL_MS, so a busy client
   * does not turn every read into a write.
   */
  async authenticate(presented: string): Promise<AuthenticatedKey | null> {
    const parsed = parseApiKey(presented);
    if (!parsed) return null;
    const now = Date.now();
    const key = await this.lookup(parsed.publicId, now);
    if (!key || key.revokedAt || !secretMatches(parsed.secret, key.secretHash)) return null;
    const interval = this.config.keyLastUsedWriteIntervalMs;
    if (!key.lastUsedAt || now - key.lastUsedAt.getTime() >= interval) {
      // Conditional update: concurrent requests racing past the check above write once.
      const cutoff = new Date(now - interval);
      key.lastUsedAt = new Date(now);
      await this.db.prisma.apiKey.updateMany({
        where: { id: key.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lte: cutoff } }] },
        data: { lastUsedAt: key.lastUsedAt },
      });
    }
    return { id: key.id, name: key.name, role: key.role };
  }

  private async lookup(publicId: string, now: number): Promise<ApiKey | null> {
    const cached = this.verified.get(publicId);
    if (cached && now - cached.readAt < this.config.keyCacheTtlMs) return cached.key;
    const key = await this.db.prisma.apiKey.findUnique({ where: { publicId } });
    if (key) this.verified.set(publicId, { key, readAt: now });
    else this.verified.delete(publicId);
    return key;
  }
}
