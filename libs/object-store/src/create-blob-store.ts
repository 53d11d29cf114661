import type { BlobStore } from './blob-store';
import { DirBlobStore, type DirBlobStoreOptions } from './dir-blob-store';
import { BlobStoreConfigError } from './errors';
import { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store';

export type BlobStoreOptions = ({ driver: 'dir' } & DirBlobStoreOptions) | ({ driver: 's3' } & S3BlobStoreOptions);

/** Builds the driver the options name. Nothing is touched until the first operation (or ping()). */
export function createBlobStore(options: BlobStoreOptions): BlobStore {
  switch (options.driver) {
    case 'dir':
      if (!options.root) throw new BlobStoreConfigError('dir blob store needs root');
      return new DirBlobStore(options);
    case 's3':
      return new S3BlobStore(options);
    default:
      throw new BlobStoreConfigError(`unknown blob store driver ${JSON.stringify((options as { driver: unknown }).driver)} (expected dir or s3)`);
  }
}

/**
 * Reads blob store options from environment variables, the same names in every service and
 * in infra/docker-compose.yml:
 *   BLOB_STORE = dir (default) | s3
 *   dir: BLOB_DIR (default `<defaultDataDir>/blobs`)
 *   s3:  S3_ENDPOINT, S3_PORT, S3_USE_SSL (true|false), S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET,
 *        S3_REGION, S3_PREFIX, S3_SPOOL_DIR, S3_PART_SIZE_MB
 * Throws BlobStoreConfigError naming every missing or malformed variable at once.
 */
export function blobStoreOptionsFromEnv(env: NodeJS.ProcessEnv, defaultDataDir = '.data'): BlobStoreOptions {
  const driver = env.BLOB_STORE ?? 'dir';
  if (driver === 'dir') return { driver, root: env.BLOB_DIR || `${defaultDataDir}/blobs` };
  if (driver !== 's3') throw new BlobStoreConfigError(`BLOB_STORE must be dir or s3, got ${JSON.stringify(driver)}`);
  const problems: string[] = [];
  const required = (name: string): string => {
    const value = env[name];
    if (!value) problems.push(`${name} is required when BLOB_STORE=s3`);
    return value ?? '';
  };
  const integer = (name: string): number | undefined => {
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    if (!/^\d+$/.test(value)) problems.push(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
  const useSSL = env.S3_USE_SSL ?? 'false';
  if (useSSL !== 'true' && useSSL !== 'false') problems.push(`S3_USE_SSL must be true or false, got ${JSON.stringify(useSSL)}`);
  const partSizeMb = integer('S3_PART_SIZE_MB');
  const options: BlobStoreOptions = {
    driver,
    endPoint: required('S3_ENDPOINT'),
    port: integer('S3_PORT'),
    useSSL: useSSL === 'true',
    accessKey: required('S3_ACCESS_KEY'),
    secretKey: required('S3_SECRET_KEY'),
    bucket: required('S3_BUCKET'),
    region: env.S3_REGION || undefined,
    prefix: env.S3_PREFIX || undefined,
    spoolDir: env.S3_SPOOL_DIR || undefined,
    partSize: partSizeMb === undefined ? undefined : partSizeMb * 1024 * 1024,
  };
  if (problems.length > 0) throw new BlobStoreConfigError(`invalid blob store environment: ${problems.join('; ')}`);
  return options;
}
