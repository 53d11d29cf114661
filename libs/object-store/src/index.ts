export type { BlobEntry, BlobReferences, BlobSource, BlobStat, BlobStore, GcOptions, GcResult, PutOptions, PutResult } from './blob-store';
export { assertBlobAddress, isBlobAddress, shardedPath } from './address';
export { blobStoreOptionsFromEnv, createBlobStore, type BlobStoreOptions } from './create-blob-store';
export { DirBlobStore, type DirBlobStoreOptions } from './dir-blob-store';
export { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store';
export {
  BlobAddressError,
  BlobIntegrityError,
  BlobNotFoundError,
  BlobRangeError,
  BlobStoreConfigError,
  BlobStoreError,
  BlobStoreUnavailableError,
  BlobTooLargeError,
  type BlobStoreErrorCode,
} from './errors';
