import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { catalogErrors } from '../catalog-errors';

/** A file written to a temp workspace, with what was learnt while streaming it. */
export interface StoredTempFile {
  /** Absolute path of the temp copy. */
  readonly path: string;
  readonly size: number;
  /** Lower-case hex sha256 of the bytes. */
  readonly sha256: string;
}

/** Bytes left for a whole request, shared by the files it carries (they may stream concurrently). */
export interface ByteBudget {
  remaining: number;
  readonly limit: number;
  readonly label: string;
}

/**
 * Counts and hashes bytes as they pass, failing the stream as soon as `maxBytes` is crossed so an
 * oversized upload is cut off without being buffered or fully written.
 */
class HashingLimiter extends Transform {
  readonly hash = createHash('sha256');
  size = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly label: string,
    private readonly budget?: ByteBudget,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      done(catalogErrors.tooLarge(`${this.label} exceeds the limit of ${this.maxBytes} bytes`, { limit: this.maxBytes }));
      return;
    }
    if (this.budget) {
      this.budget.remaining -= chunk.length;
      if (this.budget.remaining < 0) {
        done(catalogErrors.tooLarge(`${this.budget.label} exceeds the limit of ${this.budget.limit} bytes`, { limit: this.budget.limit }));
        return;
      }
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
}

/** Streams `source` into `destPath` while hashing it; never holds more than a chunk in memory. */
export async function writeHashedFile(
  source: Readable,
  destPath: string,
  maxBytes: number,
  label: string,
  budget?: ByteBudget,
): Promise<StoredTempFile> {
  const limiter = new HashingLimiter(maxBytes, label, budget);
  await pipeline(source, limiter, createWriteStream(destPath, { mode: 0o600 }));
  return { path: destPath, size: limiter.size, sha256: limiter.hash.digest('hex') };
}
