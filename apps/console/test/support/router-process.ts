import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { createRouterApp } from '@palette/router/app.module';
import { loadRouterConfig } from '@palette/router/config/router-config';
import type { TestApp } from '@palette/registry-api/testing/index';

export interface RouterHandle {
  readonly app: INestApplication;
  close(): Promise<void>;
}

/**
 * The REAL router (apps/router), in-process on `port`, reading the catalog from `registry` with a
 * reader key and adapter blobs from the registry's own blob directory (as apps/router/test does).
 */
export async function startRouter(registry: TestApp, registryUrl: string, port: number, defaultBaseModel: string): Promise<RouterHandle> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'console-router-'));
  const blobStore = registry.config.blobStore;
  const config = loadRouterConfig({
    REGISTRY_URL: registryUrl,
    REGISTRY_API_KEY: await registry.keyFor('reader'),
    DATA_DIR: dataDir,
    DEFAULT_BASE_MODEL: defaultBaseModel,
    ...(blobStore.driver === 'dir' ? { BLOB_STORE: 'dir', BLOB_DIR: blobStore.root } : { ADAPTER_SOURCE: 'registry' }),
  });
  const app = await createRouterApp(config, { logger: false });
  await app.listen(port, '127.0.0.1');
  return {
    app,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
