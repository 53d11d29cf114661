import { createReadStream } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import * as yauzl from 'yauzl';
import { CatalogError, catalogErrors } from '../catalog-errors';
import { BundleLayout, checkEntryName, type BundlePolicy } from './bundle-entry-policy';
import { writeHashedFile, type StoredTempFile } from './hashing-file-writer';
import type { TempWorkspace } from './temp-workspace';

export type BundleKind = 'tar.gz' | 'zip';

/** Identifies a bundle by its magic bytes (gzip 1f 8b, zip local header 'PK\x03\x04'); the name is not trusted. */
export async function detectBundleKind(filePath: string): Promise<BundleKind | undefined> {
  const handle = await openFile(filePath, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await handle.read(head, 0, 4, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    if (bytesRead === 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
    return undefined;
  } finally {
    await handle.close();
  }
}

/**
 * Unpacks a .tar.gz or .zip bundle into the temp workspace, entry by entry, under the policy.
 * Rejects path traversal, absolute paths, links of any kind, devices, duplicate entries, entries
 * the policy does not expect, and entries or totals over their byte limits. Returns the files by
 * plain name (`adapter_config.json`, ...), each hashed while it was written.
 */
export async function extractBundle(
  bundlePath: string,
  kind: BundleKind,
  workspace: TempWorkspace,
  policy: BundlePolicy,
): Promise<Map<string, StoredTempFile>> {
  const sink = new BundleSink(workspace, policy);
  try {
    if (kind === 'tar.gz') await extractTarGz(bundlePath, sink);
    else await extractZip(bundlePath, sink);
  } catch (err) {
    if (err instanceof CatalogError) throw err;
    throw catalogErrors.invalid(`bundle is not a valid ${kind} archive: ${(err as Error).message}`);
  }
  return sink.files;
}

/** Applies the shared rules to each entry, whichever archive format it came from. */
class BundleSink {
  readonly files = new Map<string, StoredTempFile>();
  private readonly layout = new BundleLayout();
  private entries = 0;
  private totalBytes = 0;

  constructor(
    private readonly workspace: TempWorkspace,
    private readonly policy: BundlePolicy,
  ) {}

  countEntry(): void {
    this.entries += 1;
    if (this.entries > this.policy.maxEntries) {
      throw catalogErrors.invalid(`bundle has too many entries: at most ${this.policy.maxEntries} are accepted`);
    }
  }

  directory(rawName: string): void {
    this.layout.directory(checkEntryName(rawName));
  }

  /** Validates a file entry before its bytes are read; returns its plain name and byte limit. */
  admitFile(rawName: string, declaredSize: number | undefined): { name: string; limit: number } {
    const name = this.layout.fileName(checkEntryName(rawName));
    const limit = this.policy.entryLimit(name);
    if (limit === undefined) throw catalogErrors.invalid(`unexpected bundle entry '${rawName}'`, { entry: rawName });
    if (this.files.has(name)) throw catalogErrors.invalid(`duplicate bundle entry '${name}'`, { entry: name });
    const remaining = this.policy.maxTotalBytes - this.totalBytes;
    if (declaredSize !== undefined && declaredSize > Math.min(limit, remaining)) {
      throw catalogErrors.tooLarge(`bundle entry '${name}' exceeds the limit of ${Math.min(limit, remaining)} bytes`, {
        entry: name,
      });
    }
    return { name, limit: Math.min(limit, remaining) };
  }

  async writeFile(name: string, limit: number, stream: Readable): Promise<void> {
    const stored = await writeHashedFile(stream, this.workspace.filePath(name), limit, `bundle entry '${name}'`);
    this.totalBytes += stored.size;
    this.files.set(name, stored);
  }
}

function rejectLink(rawName: string, kind: string): never {
  throw catalogErrors.invalid(`bundle entry '${rawName}' is a ${kind}; links and special files are not accepted`, {
    entry: rawName,
  });
}

async function extractTarGz(bundlePath: string, sink: BundleSink): Promise<void> {
  const extract = tar.extract();
  const feeding = pipeline(createReadStream(bundlePath), createGunzip(), extract);
  try {
    for await (const entry of extract) {
      const { name, type, size } = entry.header;
      sink.countEntry();
      if (type === 'directory') {
        sink.directory(name);
        entry.resume();
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file') rejectLink(name, type ?? 'entry of unknown type');
      const admitted = sink.admitFile(name, size);
      await sink.writeFile(admitted.name, admitted.limit, Readable.from(entry));
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    await feeding.catch(() => undefined);
    throw err;
  }
}

function openZip(bundlePath: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings:false hands us raw name bytes so our own path checks (not yauzl's) name the problem.
    yauzl.open(bundlePath, { lazyEntries: true, autoClose: true, decodeStrings: false, validateEntrySizes: true }, (err, zip) =>
      err ? reject(err) : resolve(zip),
    );
  });
}

function zipEntryName(entry: yauzl.Entry): string {
  const raw: unknown = entry.fileName;
  if (!Buffer.isBuffer(raw)) return String(raw);
  // Bit 11 marks UTF-8 names; otherwise CP437, whose printable ASCII range is all we accept anyway.
  return raw.toString((entry.generalPurposeBitFlag & 0x800) !== 0 ? 'utf8' : 'latin1');
}

function openZipEntry(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream))));
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

async function extractZip(bundlePath: string, sink: BundleSink): Promise<void> {
  const zip = await openZip(bundlePath);
  try {
    await new Promise<void>((resolve, reject) => {
      const handle = async (entry: yauzl.Entry): Promise<void> => {
        const name = zipEntryName(entry);
        sink.countEntry();
        // Unix zips carry the file mode in the high 16 bits; 0 means "no Unix mode recorded".
        const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
        if (name.endsWith('/') || mode === S_IFDIR) {
          sink.directory(name);
          return;
        }
        if (mode !== 0 && mode !== S_IFREG) rejectLink(name, mode === 0o120000 ? 'symlink' : 'special file');
        if (entry.isEncrypted()) throw catalogErrors.invalid(`bundle entry '${name}' is encrypted`, { entry: name });
        const admitted = sink.admitFile(name, entry.uncompressedSize);
        await sink.writeFile(admitted.name, admitted.limit, await openZipEntry(zip, entry));
      };
      zip.on('entry', (entry: yauzl.Entry) => {
        handle(entry).then(
          () => zip.readEntry(),
          (err: unknown) => reject(err),
        );
      });
      zip.on('end', () => resolve());
      zip.on('error', reject);
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}
