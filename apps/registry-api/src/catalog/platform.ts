/**
 * Everything the catalog takes from the platform layer, imported in one place so the catalog's
 * services and controllers depend on a short, visible list.
 */
export { APP_CONFIG, type AppConfig } from '../config/app-config';
export { DatabaseService, type Tx } from '../database/database.service';
export { vectorLiteral, parseVector, EMBEDDING_DIMENSIONS } from '../database/vectors';
export { BLOB_STORE } from '../storage/blob-store.provider';
export { AuditService } from '../audit/audit.service';
export { MetricsService } from '../common/metrics/metrics.service';
export { CurrentKey, Public, RequireRole, type AuthenticatedKey } from '../auth';
