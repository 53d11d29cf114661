/**
 * Moving file sets between the object store and a local directory. Models and adapters are
 * directories of files; jobs name them as `file name → blob address` maps (ModelFiles).
 */
import { createWriteStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { StoredFile } from '@palette/job-contracts';
import type { BlobStore } from '@palette/object-store';

/** Writes each named blob to `dir/<name>` (names were validated by the job contracts: no `..`). */
export async function downloadFiles(store: BlobStore, files: Readonly<Record<string, string>>, dir: string): Promise<void> {
  for (const [name, sha256] of Object.entries(files)) {
    const target = path.join(dir, name);
    if (!target.startsWith(path.resolve(dir) + path.sep)) throw new Error(`file name ${JSON.stringify(name)} escapes ${dir}`);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await pipeline(await store.get(sha256), createWriteStream(target));
  }
}

/** The whole blob in memory (datasets, configs, adapters: small next to a model). */
export async function readBlob(store: BlobStore, sha256: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(sha256)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Stores the named files of `dir` (all regular files when `names` is absent), returning their addresses. */
export async function uploadFiles(store: BlobStore, dir: string, names?: readonly string[]): Promise<Record<string, StoredFile>> {
  const list = names ?? (await fsp.readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
  const out: Record<string, StoredFile> = {};
  for (const name of list) {
    const { sha256, size } = await store.putFile(path.join(dir, name));
    out[name] = { sha256, size };
  }
  return out;
}
