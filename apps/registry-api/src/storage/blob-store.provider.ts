import { createBlobStore, type BlobStore } from '@palette/object-store';
import type { Provider } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';

/** Injection token of the app's BlobStore: `@Inject(BLOB_STORE) blobs: BlobStore`. */
export const BLOB_STORE = Symbol('BLOB_STORE');

export const blobStoreProvider: Provider = {
  provide: BLOB_STORE,
  inject: [APP_CONFIG],
  useFactory: (config: AppConfig): BlobStore => createBlobStore(config.blobStore),
};
