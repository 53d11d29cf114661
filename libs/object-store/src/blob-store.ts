import type { Readable } from 'node:stream';

/** What a put reads from: a stream (consumed once) or a file on local disk. */
export type BlobSource = Readable | { path: string };

export interface PutOptions {
  /** Abort with BlobTooLargeError as soon as more than this many bytes arrive. */
  maxBytes?: number;
  /** Abort with BlobIntegrityError unless the content hashes to this (lowercase hex). */
  expectedSha256?: string;
}

export interface PutResult {
  sha256: string;
  size: number;
  /** False when the blob already existed (the put was a no-op apart from refreshing its age). */
  created: boolean;
}

export interface BlobStat {
  size: number;
  /** When the blob was last written or re-put; garbage collection measures age from here. */
  modifiedAt: Date;
}

export interface BlobEntry extends BlobStat {
  sha256: string;
}

/** Which blobs are still in use: a set of addresses or an async predicate (e.g. a database lookup). */
export type BlobReferences = ReadonlySet<string> | ((sha256: string) => Promise<boolean>);

export interface GcOptions {
  /**
   * Blobs younger than this are never collected, referenced or not. It must exceed the longest
   * time between a put and the moment its caller records the reference (an upload in flight).
   */
  graceMs: number;
  /** The clock, for tests. Defaults to Date.now(). */
  now?: number;
}

export interface GcResult {
  /** Addresses of the blobs deleted. */
  deleted: string[];
  /** Number of blobs left in place (referenced or within the grace period). */
  kept: number;
}

/**
 * An immutable, content-addressed blob store. Blobs are named by the sha256 of their bytes;
 * writes are atomic (a blob is either absent or complete under its address) and every
 * transfer streams, so blob size is bounded by disk, not memory.
 */
export interface BlobStore {
  /** A short description for logs, e.g. `dir:/var/lib/palette/blobs` or `s3:host:9000/bucket/prefix`. */
  readonly description: string;
  /** Streams `source` into the store, hashing and verifying it on the way. Leaves nothing behind on failure. */
  put(source: BlobSource, options?: PutOptions): Promise<PutResult>;
  /** put() from a local file. */
  putFile(path: string, options?: PutOptions): Promise<PutResult>;
  /** The blob's bytes. Throws BlobNotFoundError when absent. */
  get(sha256: string): Promise<Readable>;
  /**
   * Bytes `start`..`end` INCLUSIVE (as in HTTP Range and fs.createReadStream); `end` past the
   * last byte is clamped. Throws BlobRangeError when `start` is past the end, BlobNotFoundError when absent.
   */
  getRange(sha256: string, start: number, end: number): Promise<Readable>;
  /** Size and age, or null when absent. */
  stat(sha256: string): Promise<BlobStat | null>;
  has(sha256: string): Promise<boolean>;
  /** Removes the blob; deleting an absent blob is not an error. */
  delete(sha256: string): Promise<void>;
  /** Every blob, in no particular order. */
  list(): AsyncIterable<BlobEntry>;
  /** Deletes blobs that are unreferenced AND older than graceMs. */
  gc(references: BlobReferences, options: GcOptions): Promise<GcResult>;
  /** Resolves when the backing storage is reachable and writable; throws BlobStoreUnavailableError otherwise. */
  ping(): Promise<void>;
}
