import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertBlobAddress } from './address';
import type { BlobSource, PutOptions } from './blob-store';
import { BlobIntegrityError, BlobStoreConfigError, BlobTooLargeError } from './errors';

/** Hashes and counts bytes as they pass, failing the stream the moment the byte limit is crossed. */
class HashingLimiter extends Transform {
  private readonly hash: Hash = createHash('sha256');
  size = 0;

  constructor(private readonly maxBytes: number | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length;
    if (this.maxBytes !== undefined && this.size > this.maxBytes) {
      callback(new BlobTooLargeError(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/** Rejects malformed put options before any byte is read. */
export function validatePutOptions(options: PutOptions): void {
  const { maxBytes, expectedSha256 } = options;
  if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 0)) {
    throw new BlobStoreConfigError(`maxBytes must be a non-negative integer, got ${maxBytes}`);
  }
  if (expectedSha256 !== undefined) assertBlobAddress(expectedSha256);
}

export function isReadableSource(source: BlobSource): source is Readable {
  return source instanceof Readable || typeof (source as Partial<Readable>).pipe === 'function';
}

/**
 * Streams `source` into a new file at `tempPath` (which must not exist), hashing it, enforcing
 * maxBytes as bytes arrive and expectedSha256 at the end, and flushing it to disk before
 * resolving. On any failure the file is removed and the error rethrown, so a caller that
 * publishes the file only after this resolves never exposes partial or wrong content.
 */
export async function writeVerifiedFile(
  source: BlobSource,
  tempPath: string,
  options: PutOptions,
): Promise<{ sha256: string; size: number }> {
  validatePutOptions(options);
  const input = isReadableSource(source) ? source : createReadStream(source.path);
  const limiter = new HashingLimiter(options.maxBytes);
  // 'wx' refuses to reuse a path; flush fsyncs before close so a crash after publishing
  // cannot surface a file whose data never reached the disk.
  const output = createWriteStream(tempPath, { flags: 'wx', flush: true });
  try {
    await pipeline(input, limiter, output);
    const sha256 = limiter.digest();
    if (options.expectedSha256 !== undefined && sha256 !== options.expectedSha256) {
      throw new BlobIntegrityError(options.expectedSha256, sha256);
    }
    return { sha256, size: limiter.size };
  } catch (error) {
    // pipeline rejects as soon as the source fails, possibly before the file stream has even
    // opened its file: removing it then would leave the file that the open creates just after.
    if (!output.closed) await new Promise<void>((resolve) => output.once('close', () => resolve()));
    await rm(tempPath, { force: true });
    throw error;
  }
}
