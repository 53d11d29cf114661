import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Client, CopyDestinationOptions, CopySourceOptions } from 'minio';
import { shardedPath } from './address';
import type { BlobEntry, BlobReferences, BlobSource, BlobStat, BlobStore, GcOptions, GcResult, PutOptions, PutResult } from './blob-store';
import { BlobNotFoundError, BlobStoreConfigError, BlobStoreError, BlobStoreUnavailableError } from './errors';
import { collectGarbage } from './gc';
import { resolveRange } from './range';
import { writeVerifiedFile } from './verified-write';

export interface S3BlobStoreOptions {
  endPoint: string;
  port?: number;
  useSSL?: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** Region for bucket creation and request signing; us-east-1 when omitted. */
  region?: string;
  /** Key prefix inside the bucket, e.g. `blobs/`; a trailing slash is added when missing. */
  prefix?: string;
  /** Local directory where uploads are spooled while being hashed; os.tmpdir() when omitted. Needs room for the largest blob. */
  spoolDir?: string;
  /** Multipart part size in bytes (≥ 5 MiB); one part is held in memory per upload. 16 MiB when omitted. */
  partSize?: number;
}

const MIB = 1024 * 1024;
const DEFAULT_PART_SIZE = 16 * MIB;
/** S3's limit for a single CopyObject request. */
const MAX_COPY_BYTES = 5 * 1024 * MIB;
const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound', 'NoSuchObject']);

function s3ErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Blobs in an S3-compatible bucket (MinIO, AWS S3), at `<prefix>ab/cd/<sha256>`.
 *
 * Uploads are spooled to a local temp file while being hashed and checked, and only then sent
 * to their final key. Why a local spool rather than a temp object copied into place:
 * the address is known before anything reaches the bucket, so failed or oversized uploads
 * never touch it (nothing to clean up, no orphan temp objects after a crash), content already
 * present is not uploaded again, and no server-side copy is needed (CopyObject stops at 5 GiB).
 * S3 makes a PUT or a completed multipart upload visible all at once, so the final key never
 * shows partial content. The cost is local disk for one blob per concurrent upload.
 */
export class S3BlobStore implements BlobStore {
  readonly description: string;
  private readonly client: Client;
  private readonly prefix: string;
  private readonly spoolDir: string;
  private readonly region: string;
  private readonly partSize: number;
  private bucketReady: Promise<void> | undefined;
  /** Puts of the same address in this process share one upload (S3 cannot fail a PUT on an existing key). */
  private readonly uploadsInFlight = new Map<string, Promise<boolean>>();

  constructor(private readonly options: S3BlobStoreOptions) {
    if (!options.endPoint) throw new BlobStoreConfigError('s3 blob store needs endPoint');
    if (!options.bucket) throw new BlobStoreConfigError('s3 blob store needs bucket');
    if (!options.accessKey || !options.secretKey) throw new BlobStoreConfigError('s3 blob store needs accessKey and secretKey');
    const partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < 5 * MIB) {
      throw new BlobStoreConfigError(`s3 partSize must be an integer of at least 5 MiB, got ${partSize}`);
    }
    this.partSize = partSize;
    this.region = options.region ?? 'us-east-1';
    this.prefix = options.prefix ? options.prefix.replace(/\/*$/, '/') : '';
    this.spoolDir = options.spoolDir ?? tmpdir();
    this.client = new Client({
      endPoint: options.endPoint,
      port: options.port,
      useSSL: options.useSSL ?? false,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      region: this.region,
      partSize,
    });
    const port = options.port ? `:${options.port}` : '';
    this.description = `s3:${options.useSSL ? 'https' : 'http'}://${options.endPoint}${port}/${options.bucket}/${this.prefix}`;
  }

  async put(source: BlobSource, options: PutOptions = {}): Promise<PutResult> {
    await mkdir(this.spoolDir, { recursive: true });
    const spoolPath = join(this.spoolDir, `palette-blob-${process.pid}-${randomUUID()}.part`);
    const { sha256, size } = await writeVerifiedFile(source, spoolPath, options);
    try {
      await this.ensureBucket();
      const key = this.keyOf(sha256);
      const inFlight = this.uploadsInFlight.get(key);
      // Piggyback on a concurrent upload of the same bytes; if it fails, upload ourselves.
      if (inFlight && (await inFlight.then(() => true, () => false))) return { sha256, size, created: false };
      const upload = this.uploadSpooled(key, spoolPath, size);
      this.uploadsInFlight.set(key, upload);
      try {
        return { sha256, size, created: await upload };
      } finally {
        this.uploadsInFlight.delete(key);
      }
    } finally {
      await rm(spoolPath, { force: true });
    }
  }

  putFile(path: string, options?: PutOptions): Promise<PutResult> {
    return this.put({ path }, options);
  }

  async get(sha256: string): Promise<Readable> {
    const key = this.keyOf(sha256);
    await this.ensureBucket();
    try {
      return await this.client.getObject(this.options.bucket, key);
    } catch (error) {
      throw this.translate(error, sha256, 'get');
    }
  }

  async getRange(sha256: string, start: number, end: number): Promise<Readable> {
    const info = await this.stat(sha256);
    if (!info) throw new BlobNotFoundError(sha256);
    const range = resolveRange(info.size, start, end);
    if (range.end < range.start) return Readable.from([]);
    try {
      return await this.client.getPartialObject(this.options.bucket, this.keyOf(sha256), range.start, range.end - range.start + 1);
    } catch (error) {
      throw this.translate(error, sha256, 'getRange');
    }
  }

  async stat(sha256: string): Promise<BlobStat | null> {
    const key = this.keyOf(sha256);
    await this.ensureBucket();
    try {
      const info = await this.client.statObject(this.options.bucket, key);
      return { size: info.size, modifiedAt: info.lastModified };
    } catch (error) {
      if (NOT_FOUND_CODES.has(s3ErrorCode(error) ?? '')) return null;
      throw this.translate(error, sha256, 'stat');
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== null;
  }

  async delete(sha256: string): Promise<void> {
    const key = this.keyOf(sha256);
    await this.ensureBucket();
    try {
      await this.client.removeObject(this.options.bucket, key);
    } catch (error) {
      if (NOT_FOUND_CODES.has(s3ErrorCode(error) ?? '')) return;
      throw this.translate(error, sha256, 'delete');
    }
  }

  async *list(): AsyncIterable<BlobEntry> {
    await this.ensureBucket();
    const items = this.client.listObjectsV2(this.options.bucket, this.prefix, true);
    try {
      for await (const item of items as AsyncIterable<{ name?: string; size: number; lastModified: Date }>) {
        const sha256 = this.addressOfKey(item.name);
        if (sha256) yield { sha256, size: item.size, modifiedAt: item.lastModified };
      }
    } catch (error) {
      throw this.translate(error, undefined, 'list');
    }
  }

  gc(references: BlobReferences, options: GcOptions): Promise<GcResult> {
    return collectGarbage(this.list(), references, options, (sha) => this.delete(sha));
  }

  async ping(): Promise<void> {
    try {
      await this.ensureBucket();
    } catch (error) {
      if (error instanceof BlobStoreError) throw error;
      throw new BlobStoreUnavailableError(`${this.description} is unreachable: ${(error as Error).message}`, error);
    }
  }

  private keyOf(sha256: string): string {
    return this.prefix + shardedPath(sha256);
  }

  /** The address a listed key names, or undefined for keys this store did not write. */
  private addressOfKey(key: string | undefined): string | undefined {
    if (!key || !key.startsWith(this.prefix)) return undefined;
    const sha256 = key.slice(key.lastIndexOf('/') + 1);
    try {
      return this.keyOf(sha256) === key ? sha256 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends the spooled file to `key` unless identical content is there; true when this call stored it. */
  private async uploadSpooled(key: string, spoolPath: string, size: number): Promise<boolean> {
    const existing = await this.statKey(key);
    if (existing && existing.size === size) {
      await this.refreshAge(key, spoolPath, size);
      return false;
    }
    try {
      await this.uploadFile(key, spoolPath, size);
      return true;
    } catch (error) {
      // Another process may have completed the same upload first (S3 has no put-if-absent
      // that every server supports); its object is the same bytes, so that is a success.
      const raced = await this.statKey(key).catch(() => null);
      if (raced && raced.size === size) return false;
      throw this.translate(error, undefined, 'put');
    }
  }

  /**
   * Uploads a local file to `key`: one PUT up to the part size, otherwise a multipart upload
   * driven here rather than by the minio client's putObject, because that one first searches
   * for an unfinished upload of the same key to resume (two concurrent puts of one blob would
   * then write into each other's upload) and needs ListMultipartUploads, which not every
   * S3-compatible server implements. Parts are read from the file one at a time into a single
   * reused buffer, so memory stays at one part; a failed upload is aborted so no parts linger.
   */
  private async uploadFile(key: string, path: string, size: number): Promise<void> {
    const headers = { 'Content-Type': 'application/octet-stream' };
    if (size <= this.partSize) {
      await this.client.putObject(this.options.bucket, key, createReadStream(path), size, headers);
      return;
    }
    const uploadId = await this.client.initiateNewMultipartUpload(this.options.bucket, key, headers);
    const file = await open(path, 'r');
    try {
      const buffer = Buffer.allocUnsafe(this.partSize);
      const parts: { part: number; etag: string }[] = [];
      for (let offset = 0, part = 1; offset < size; offset += this.partSize, part++) {
        const length = Math.min(this.partSize, size - offset);
        const { bytesRead } = await file.read(buffer, 0, length, offset);
        if (bytesRead !== length) throw new Error(`spool file ${path} shrank while uploading`);
        const chunk = buffer.subarray(0, length);
        const md5 = createHash('md5').update(chunk).digest('base64');
        const { etag } = await this.client.uploadPart(
          { bucketName: this.options.bucket, objectName: key, uploadID: uploadId, partNumber: part, headers: { 'Content-MD5': md5 } },
          chunk,
        );
        parts.push({ part, etag });
      }
      await this.client.completeMultipartUpload(this.options.bucket, key, uploadId, parts);
    } catch (error) {
      await this.client.abortMultipartUpload(this.options.bucket, key, uploadId).catch(() => undefined);
      throw error;
    } finally {
      await file.close();
    }
  }

  /**
   * A re-put is a new reference, so gc's grace period must restart: copy the object onto
   * itself (server-side, no data sent) to bump LastModified. Beyond CopyObject's 5 GiB limit
   * the spooled bytes are uploaded again instead.
   */
  private async refreshAge(key: string, spoolPath: string, size: number): Promise<void> {
    try {
      if (size > MAX_COPY_BYTES) {
        await this.uploadFile(key, spoolPath, size);
        return;
      }
      await this.client.copyObject(
        new CopySourceOptions({ Bucket: this.options.bucket, Object: key }),
        new CopyDestinationOptions({
          Bucket: this.options.bucket,
          Object: key,
          MetadataDirective: 'REPLACE',
          UserMetadata: { 'palette-refreshed-at': new Date().toISOString() },
          Headers: { 'Content-Type': 'application/octet-stream' },
        }),
      );
    } catch (error) {
      throw this.translate(error, undefined, 'put (refresh)');
    }
  }

  private async statKey(key: string): Promise<{ size: number } | null> {
    try {
      return await this.client.statObject(this.options.bucket, key);
    } catch (error) {
      if (NOT_FOUND_CODES.has(s3ErrorCode(error) ?? '')) return null;
      throw this.translate(error, undefined, 'stat');
    }
  }

  /** Creates the bucket on first use; concurrent creators (other processes) are tolerated. */
  private ensureBucket(): Promise<void> {
    this.bucketReady ??= (async () => {
      try {
        if (await this.client.bucketExists(this.options.bucket)) return;
        await this.client.makeBucket(this.options.bucket, this.region);
      } catch (error) {
        const code = s3ErrorCode(error);
        if (code === 'BucketAlreadyOwnedByYou' || code === 'BucketAlreadyExists') return;
        throw new BlobStoreUnavailableError(
          `cannot open bucket ${this.options.bucket} at ${this.description}: ${(error as Error).message}`,
          error,
        );
      }
    })().catch((error: unknown) => {
      this.bucketReady = undefined;
      throw error;
    });
    return this.bucketReady;
  }

  private translate(error: unknown, sha256: string | undefined, operation: string): Error {
    if (error instanceof BlobStoreError) return error;
    if (sha256 && NOT_FOUND_CODES.has(s3ErrorCode(error) ?? '')) return new BlobNotFoundError(sha256);
    return new BlobStoreUnavailableError(`${operation} failed on ${this.description}: ${(error as Error).message}`, error);
  }
}
