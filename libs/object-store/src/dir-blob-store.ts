import { randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { access, link, mkdir, open, readdir, rename, rm, stat, utimes, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { isBlobAddress, shardedPath } from './address';
import type { BlobEntry, BlobReferences, BlobSource, BlobStat, BlobStore, GcOptions, GcResult, PutOptions, PutResult } from './blob-store';
import { BlobNotFoundError, BlobStoreUnavailableError } from './errors';
import { collectGarbage } from './gc';
import { resolveRange } from './range';
import { writeVerifiedFile } from './verified-write';

export interface DirBlobStoreOptions {
  /** Directory holding the blobs; created on first use. */
  root: string;
}

/** Where uploads are written before they are published; inside root so publishing is a same-filesystem link. */
const TEMP_DIR = '.tmp';
const MIN_TEMP_FILE_AGE_MS = 60_000;
const SHARD = /^[0-9a-f]{2}$/;

function isErrno(error: unknown, ...codes: string[]): boolean {
  return error instanceof Error && codes.includes((error as NodeJS.ErrnoException).code ?? '');
}

/**
 * The embedded blob store: one file per blob under `root/ab/cd/<sha256>`.
 *
 * A put streams into `root/.tmp/<unique>.part`, fsyncs it, then publishes it with link(2),
 * which fails if the address is taken. So a blob path only ever names complete content, and
 * of N concurrent puts of the same bytes exactly one reports `created: true`.
 */
export class DirBlobStore implements BlobStore {
  readonly description: string;
  private readonly tempDir: string;
  private ready: Promise<void> | undefined;

  constructor(private readonly options: DirBlobStoreOptions) {
    this.description = `dir:${options.root}`;
    this.tempDir = join(options.root, TEMP_DIR);
  }

  async put(source: BlobSource, options: PutOptions = {}): Promise<PutResult> {
    await this.ensureDirectories();
    const tempPath = join(this.tempDir, `${process.pid}-${randomUUID()}.part`);
    const { sha256, size } = await writeVerifiedFile(source, tempPath, options);
    try {
      const finalPath = this.pathOf(sha256);
      await mkdir(dirname(finalPath), { recursive: true });
      const created = await this.publish(tempPath, finalPath, size);
      return { sha256, size, created };
    } finally {
      await rm(tempPath, { force: true });
    }
  }

  putFile(path: string, options?: PutOptions): Promise<PutResult> {
    return this.put({ path }, options);
  }

  async get(sha256: string): Promise<Readable> {
    const handle = await this.openBlob(sha256);
    return handle.createReadStream();
  }

  async getRange(sha256: string, start: number, end: number): Promise<Readable> {
    const handle = await this.openBlob(sha256);
    try {
      const { size } = await handle.stat();
      const range = resolveRange(size, start, end);
      if (range.end < range.start) {
        // An empty blob has no bytes to read; a read stream cannot express an empty range.
        await handle.close();
        return Readable.from([]);
      }
      return handle.createReadStream({ start: range.start, end: range.end });
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async stat(sha256: string): Promise<BlobStat | null> {
    try {
      const info = await stat(this.pathOf(sha256));
      return { size: info.size, modifiedAt: info.mtime };
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== null;
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  async *list(): AsyncIterable<BlobEntry> {
    for (const first of await this.readDirNames(this.options.root)) {
      if (!SHARD.test(first)) continue;
      for (const second of await this.readDirNames(join(this.options.root, first))) {
        if (!SHARD.test(second)) continue;
        for (const name of await this.readDirNames(join(this.options.root, first, second))) {
          if (!isBlobAddress(name) || name.slice(0, 2) !== first || name.slice(2, 4) !== second) continue;
          const info = await this.stat(name);
          if (info) yield { sha256: name, ...info };
        }
      }
    }
  }

  async gc(references: BlobReferences, options: GcOptions): Promise<GcResult> {
    const result = await collectGarbage(this.list(), references, options, (sha) => this.delete(sha));
    // An upload in flight owns a fresh .part file: never sweep one younger than a minute, even
    // with graceMs 0 (an operator's "collect everything now" must not break running writers).
    await this.sweepStaleTempFiles((options.now ?? Date.now()) - Math.max(options.graceMs, MIN_TEMP_FILE_AGE_MS));
    return result;
  }

  async ping(): Promise<void> {
    try {
      await this.ensureDirectories();
      await access(this.tempDir, fsConstants.R_OK | fsConstants.W_OK);
    } catch (error) {
      this.ready = undefined;
      throw new BlobStoreUnavailableError(`blob directory ${this.options.root} is not writable: ${(error as Error).message}`, error);
    }
  }

  private pathOf(sha256: string): string {
    return join(this.options.root, shardedPath(sha256));
  }

  private ensureDirectories(): Promise<void> {
    this.ready ??= mkdir(this.tempDir, { recursive: true }).then(
      () => undefined,
      (error: unknown) => {
        this.ready = undefined;
        throw error;
      },
    );
    return this.ready;
  }

  /** Makes `tempPath` visible at `finalPath`; false when identical content was already there. */
  private async publish(tempPath: string, finalPath: string, size: number): Promise<boolean> {
    try {
      await link(tempPath, finalPath);
      await this.syncDirectory(dirname(finalPath));
      return true;
    } catch (error) {
      if (isErrno(error, 'EEXIST')) return this.reuseExisting(tempPath, finalPath, size);
      // Some file systems (certain FUSE and network mounts) have no hard links; rename is
      // still atomic there, it just cannot tell which of two racing puts came first.
      if (!isErrno(error, 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK')) throw error;
      const existing = await stat(finalPath).catch(() => null);
      if (existing) return this.reuseExisting(tempPath, finalPath, size);
      await rename(tempPath, finalPath);
      await this.syncDirectory(dirname(finalPath));
      return true;
    }
  }

  /**
   * The address is taken. Its content is the same bytes by construction, so refresh its age
   * (a re-put is a new reference, and gc's grace period must protect it). A size mismatch means
   * the file was damaged outside this store: replace it with the verified upload.
   */
  private async reuseExisting(tempPath: string, finalPath: string, size: number): Promise<boolean> {
    const existing = await stat(finalPath);
    if (existing.size !== size) {
      await rename(tempPath, finalPath);
      await this.syncDirectory(dirname(finalPath));
      return true;
    }
    const now = new Date();
    await utimes(finalPath, now, now);
    return false;
  }

  private async syncDirectory(path: string): Promise<void> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'r');
      await handle.sync();
    } catch (error) {
      // Directory fsync is unsupported on some platforms; the data itself is already synced.
      if (!isErrno(error, 'EISDIR', 'EINVAL', 'EPERM', 'EBADF')) throw error;
    } finally {
      await handle?.close();
    }
  }

  private async openBlob(sha256: string): Promise<FileHandle> {
    try {
      return await open(this.pathOf(sha256), 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new BlobNotFoundError(sha256);
      throw error;
    }
  }

  private async readDirNames(path: string): Promise<string[]> {
    try {
      return await readdir(path);
    } catch (error) {
      // A shard removed while listing, or a store that has never been written to.
      if (isErrno(error, 'ENOENT', 'ENOTDIR')) return [];
      throw error;
    }
  }

  /** Removes upload files left by crashed processes: untouched for longer than the grace period. */
  private async sweepStaleTempFiles(cutoff: number): Promise<void> {
    for (const name of await this.readDirNames(this.tempDir)) {
      const path = join(this.tempDir, name);
      const info = await stat(path).catch(() => null);
      if (info && info.mtimeMs < cutoff) await rm(path, { force: true });
    }
  }
}
