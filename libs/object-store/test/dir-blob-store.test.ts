import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, utimes, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { BlobStoreUnavailableError, createBlobStore, DirBlobStore } from '../src/index';
import { sha256Of } from './blob-fixtures';
import { describeBlobStoreContract } from './blob-store-contract';

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'palette-dir-store-'));
}

async function filesIn(path: string): Promise<string[]> {
  return readdir(path).catch(() => []);
}

describeBlobStoreContract('dir', async () => {
  const root = await tempRoot();
  return {
    store: createBlobStore({ driver: 'dir', root }),
    leftovers: () => filesIn(join(root, '.tmp')),
    exactlyOneCreatedOnRace: true,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('DirBlobStore layout and recovery', () => {
  it('stores a blob at root/ab/cd/<sha256> with its exact bytes', async () => {
    const root = await tempRoot();
    try {
      const store = new DirBlobStore({ root });
      const { sha256 } = await store.put(Readable.from([Buffer.from('layout')]));
      const path = join(root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
      assert.equal((await stat(path)).size, 6);
      assert.equal(store.description, `dir:${root}`);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('ignores stray files and crash leftovers when listing, and gc sweeps stale temp files', async () => {
    const root = await tempRoot();
    try {
      const store = new DirBlobStore({ root });
      const { sha256 } = await store.put(Readable.from([Buffer.from('real')]));
      // A crashed upload, a misplaced file and a foreign directory.
      const stale = join(root, '.tmp', 'crashed.part');
      await writeFile(stale, 'partial');
      const old = new Date(Date.now() - 3_600_000);
      await utimes(stale, old, old);
      const fresh = join(root, '.tmp', 'in-flight.part');
      await writeFile(fresh, 'uploading');
      await mkdir(join(root, 'zz'), { recursive: true });
      await writeFile(join(root, sha256.slice(0, 2), sha256.slice(2, 4), 'README'), 'not a blob');
      await writeFile(join(root, sha256.slice(0, 2), sha256.slice(2, 4), sha256Of('elsewhere')), 'wrong shard');

      const listed: string[] = [];
      for await (const entry of store.list()) listed.push(entry.sha256);
      assert.deepEqual(listed, [sha256]);

      const result = await store.gc(new Set([sha256]), { graceMs: 60_000 });
      assert.deepEqual(result, { deleted: [], kept: 1 });
      assert.deepEqual(await filesIn(join(root, '.tmp')), ['in-flight.part']);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('replaces a damaged blob (wrong size) with a verified upload', async () => {
    const root = await tempRoot();
    try {
      const store = new DirBlobStore({ root });
      const { sha256 } = await store.put(Readable.from([Buffer.from('intact content')]));
      await writeFile(join(root, sha256.slice(0, 2), sha256.slice(2, 4), sha256), 'trunc');
      const again = await store.put(Readable.from([Buffer.from('intact content')]));
      assert.equal(again.created, true);
      assert.equal((await store.stat(sha256))?.size, 14);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('fails ping with BlobStoreUnavailableError when the root cannot be created', async () => {
    const root = await tempRoot();
    try {
      const blocker = join(root, 'file');
      await writeFile(blocker, 'x');
      const store = new DirBlobStore({ root: join(blocker, 'blobs') });
      await assert.rejects(store.ping(), BlobStoreUnavailableError);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
