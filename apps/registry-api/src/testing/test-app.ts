import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { createApp } from '../app.module';
import { ApiKeysService } from '../auth/api-keys.service';
import { BootstrapKeyService } from '../auth/bootstrap-key.service';
import type { Role } from '../auth/roles';
import { AppLogger } from '../common/logging/app-logger';
import { loadConfig, type AppConfig } from '../config/app-config';
import { copyTemplateTo } from './pglite-template';

export interface TestAppOptions {
  blobStore?: 'dir' | 's3';
  /** Reuse a directory (e.g. to reopen what a previous test app wrote). Default: a fresh temp dir, deleted on close. */
  dataDir?: string;
  /** Extra environment variables, as the service would read them. */
  env?: Record<string, string>;
}

/** One JSON log line as the app wrote it. */
export type LogLine = Record<string, unknown> & { level: string; msg: string; reqId?: string };

export interface TestApp {
  readonly app: INestApplication;
  /** supertest bound to the current app instance (refreshed by restart()). */
  readonly http: ReturnType<typeof request>;
  /** The bootstrap admin key printed at first start. */
  readonly adminKey: string;
  readonly config: AppConfig;
  readonly dataDir: string;
  /** A key with this role (created on first use, then reused). */
  keyFor(role: Role): Promise<string>;
  /** Every log line written so far, parsed. */
  logs(): LogLine[];
  /** Closes the app and boots it again on the same data directory and blob store. */
  restart(): Promise<void>;
  /** Closes the app and removes what it created (temp dir, S3 server). */
  close(): Promise<void>;
}

/**
 * Boots the REAL app (every module, real PGlite + pgvector, real blob store) on a temp dir.
 * With blobStore 's3' an in-process-tree S3 server (s3rver) is started and stopped with the app.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'registry-test-'));
  const env: Record<string, string> = { DATA_DIR: dataDir, LOG_LEVEL: 'info', ...options.env };
  let stopS3: (() => Promise<void>) | undefined;
  if (options.blobStore === 's3') {
    // Loaded lazily: only S3 tests pay for the server.
    const { startTestS3Server } = await import('@palette/object-store/testing/s3-server');
    const s3 = await startTestS3Server();
    stopS3 = () => s3.stop();
    Object.assign(env, {
      BLOB_STORE: 's3',
      S3_ENDPOINT: s3.endPoint,
      S3_PORT: String(s3.port),
      S3_USE_SSL: 'false',
      S3_ACCESS_KEY: s3.accessKey,
      S3_SECRET_KEY: s3.secretKey,
      S3_BUCKET: s3.bucket,
    });
  }
  const config = loadConfig(env);
  if (config.database.kind === 'pglite' && !existsSync(config.database.dataDir)) await copyTemplateTo(config.database.dataDir);

  const lines: string[] = [];
  const logger = new AppLogger(config.logLevel, { write: (line: string) => void lines.push(line) });
  const keys = new Map<Role, string>();
  let app = await createApp(config, { logger });
  let adminKey = app.get(BootstrapKeyService).createdKey;
  if (adminKey === undefined) {
    // Reopened directory: the bootstrap key was printed by an earlier instance; make a fresh admin key.
    adminKey = (await app.get(ApiKeysService).create({ name: 'test-admin', role: 'admin' }, null)).plaintext;
  }
  let closed = false;

  const closeApp = async () => {
    if (!closed) await app.close();
    closed = true;
  };

  return {
    get app() {
      return app;
    },
    get http() {
      return request(app.getHttpServer());
    },
    get adminKey() {
      return adminKey!;
    },
    config,
    dataDir,
    async keyFor(role: Role) {
      const existing = keys.get(role);
      if (existing) return existing;
      const { plaintext } = await app.get(ApiKeysService).create({ name: `test-${role}`, role }, null);
      keys.set(role, plaintext);
      return plaintext;
    },
    logs: () => lines.map((line) => JSON.parse(line) as LogLine),
    async restart() {
      await closeApp();
      app = await createApp(config, { logger });
      closed = false;
    },
    async close() {
      await closeApp();
      await stopS3?.();
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
