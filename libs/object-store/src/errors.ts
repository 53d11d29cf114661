/** Machine-readable reasons a blob store operation failed; services map them to transport errors. */
export type BlobStoreErrorCode =
  | 'BLOB_NOT_FOUND'
  | 'BLOB_INTEGRITY'
  | 'BLOB_TOO_LARGE'
  | 'BLOB_RANGE_INVALID'
  | 'BLOB_ADDRESS_INVALID'
  | 'BLOB_STORE_CONFIG_INVALID'
  | 'BLOB_STORE_UNAVAILABLE';

/** Base class of every error this package throws on purpose. */
export class BlobStoreError extends Error {
  readonly code: BlobStoreErrorCode;

  constructor(code: BlobStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** get/getRange of an address that holds no blob. */
export class BlobNotFoundError extends BlobStoreError {
  constructor(readonly sha256: string) {
    super('BLOB_NOT_FOUND', `blob ${sha256} not found`);
  }
}

/** The streamed content did not hash to the sha256 the caller promised. */
export class BlobIntegrityError extends BlobStoreError {
  constructor(
    readonly expectedSha256: string,
    readonly actualSha256: string,
  ) {
    super('BLOB_INTEGRITY', `content hashes to ${actualSha256}, expected ${expectedSha256}`);
  }
}

/** The streamed content exceeded the caller's byte limit; the upload was aborted at that point. */
export class BlobTooLargeError extends BlobStoreError {
  constructor(readonly maxBytes: number) {
    super('BLOB_TOO_LARGE', `content exceeds the limit of ${maxBytes} bytes`);
  }
}

/** A byte range that is malformed or starts past the end of the blob. */
export class BlobRangeError extends BlobStoreError {
  constructor(message: string) {
    super('BLOB_RANGE_INVALID', message);
  }
}

/** A string that is not a lowercase hex sha256 was used as a blob address. */
export class BlobAddressError extends BlobStoreError {
  constructor(readonly address: string) {
    super('BLOB_ADDRESS_INVALID', `not a blob address (64 lowercase hex digits): ${JSON.stringify(address.slice(0, 80))}`);
  }
}

/** Options given to createBlobStore (or read from the environment) are missing or malformed. */
export class BlobStoreConfigError extends BlobStoreError {
  constructor(message: string) {
    super('BLOB_STORE_CONFIG_INVALID', message);
  }
}

/** The backing storage could not be reached or refused the operation. */
export class BlobStoreUnavailableError extends BlobStoreError {
  constructor(message: string, cause?: unknown) {
    super('BLOB_STORE_UNAVAILABLE', message, { cause });
  }
}
