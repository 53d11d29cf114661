import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  BlobAddressError,
  BlobIntegrityError,
  BlobNotFoundError,
  BlobRangeError,
  BlobTooLargeError,
  type BlobEntry,
  type BlobStore,
} from '../src/index';
import { generatedStream, hashStream, readAll, sha256Of } from './blob-fixtures';

/** A fresh, empty store for one test, plus what the driver leaves on local disk while writing. */
export interface ContractSubject {
  store: BlobStore;
  /** Upload temp/spool files currently present: must be empty after every put, failed or not. */
  leftovers(): Promise<string[]>;
  /** At most one put of N concurrent identical puts reports created (true where the backend can tell). */
  exactlyOneCreatedOnRace: boolean;
  cleanup(): Promise<void>;
}

const MISSING = 'f'.repeat(64);

async function listAll(store: BlobStore): Promise<BlobEntry[]> {
  const entries: BlobEntry[] = [];
  for await (const entry of store.list()) entries.push(entry);
  return entries.sort((a, b) => a.sha256.localeCompare(b.sha256));
}

/** The behaviour every BlobStore driver must show, run once per driver. */
export function describeBlobStoreContract(driver: string, makeSubject: () => Promise<ContractSubject>): void {
  describe(`BlobStore contract: ${driver}`, () => {
    let subject: ContractSubject;
    let store: BlobStore;
    beforeEach(async () => {
      subject = await makeSubject();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.cleanup();
    });

    it('round-trips a 20 MB streamed blob, checked by hash', async () => {
      const size = 20 * 1024 * 1024 + 123;
      const source = generatedStream(size);
      const put = await store.put(source.stream);
      assert.equal(put.sha256, await source.sha256);
      assert.equal(put.size, size);
      assert.equal(put.created, true);
      assert.deepEqual(await hashStream(await store.get(put.sha256)), { sha256: put.sha256, size });
      assert.deepEqual(await subject.leftovers(), []);
    });

    it('stores identical content once: a second put is a no-op that reports created=false', async () => {
      const first = await store.put(Readable.from([Buffer.from('same bytes')]));
      const second = await store.put(Readable.from([Buffer.from('same '), Buffer.from('bytes')]));
      assert.deepEqual(second, { ...first, created: false });
      assert.equal(first.sha256, sha256Of('same bytes'));
      assert.equal((await listAll(store)).length, 1);
    });

    it('restarts the gc grace period when existing content is put again', async () => {
      const { sha256 } = await store.put(Readable.from([Buffer.from('refreshed')]));
      const before = (await store.stat(sha256))!.modifiedAt.getTime();
      // S3 reports LastModified in whole seconds.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await store.put(Readable.from([Buffer.from('refreshed')]));
      const after = (await store.stat(sha256))!.modifiedAt.getTime();
      assert.ok(after > before, `modifiedAt ${after} should move past ${before}`);
      assert.equal(await readAll(await store.get(sha256)).then(String), 'refreshed');
    });

    it('rejects content that does not match expectedSha256 and leaves nothing behind', async () => {
      const wrong = sha256Of('something else');
      await assert.rejects(store.put(Readable.from([Buffer.alloc(300_000, 1)]), { expectedSha256: wrong }), (error: unknown) => {
        assert.ok(error instanceof BlobIntegrityError);
        assert.equal(error.code, 'BLOB_INTEGRITY');
        assert.equal(error.expectedSha256, wrong);
        assert.equal(error.actualSha256, sha256Of(Buffer.alloc(300_000, 1)));
        return true;
      });
      assert.deepEqual(await listAll(store), []);
      assert.equal(await store.has(sha256Of(Buffer.alloc(300_000, 1))), false);
      assert.deepEqual(await subject.leftovers(), []);
    });

    it('accepts content that matches expectedSha256', async () => {
      const data = Buffer.from('verified');
      const put = await store.put(Readable.from([data]), { expectedSha256: sha256Of(data) });
      assert.equal(put.sha256, sha256Of(data));
    });

    it('stops reading at maxBytes with BlobTooLargeError and leaves nothing behind', async () => {
      let produced = 0;
      async function* endless(): AsyncGenerator<Buffer> {
        for (;;) {
          produced += 65536;
          yield Buffer.alloc(65536, 2);
        }
      }
      await assert.rejects(store.put(Readable.from(endless()), { maxBytes: 1_000_000 }), BlobTooLargeError);
      assert.ok(produced < 2_000_000, `read ${produced} bytes of an endless stream`);
      assert.deepEqual(await listAll(store), []);
      assert.deepEqual(await subject.leftovers(), []);
      const exact = await store.put(Readable.from([Buffer.alloc(1000, 3)]), { maxBytes: 1000 });
      assert.equal(exact.size, 1000);
    });

    it('propagates a failing source stream and leaves nothing behind', async () => {
      async function* failing(): AsyncGenerator<Buffer> {
        yield Buffer.alloc(100_000, 4);
        throw new Error('client went away');
      }
      await assert.rejects(store.put(Readable.from(failing())), /client went away/);
      assert.deepEqual(await listAll(store), []);
      assert.deepEqual(await subject.leftovers(), []);
    });

    it('handles concurrent puts of the same and of different content', async () => {
      const data = Buffer.alloc(2 * 1024 * 1024 + 5, 9);
      const same = await Promise.all(Array.from({ length: 6 }, () => store.put(Readable.from([data.subarray(0, 1000), data.subarray(1000)]))));
      const different = await Promise.all(Array.from({ length: 4 }, (_, i) => store.put(Readable.from([Buffer.from(`blob ${i}`)]))));
      for (const result of same) assert.equal(result.sha256, sha256Of(data));
      const created = same.filter((r) => r.created).length;
      if (subject.exactlyOneCreatedOnRace) assert.equal(created, 1);
      else assert.ok(created >= 1);
      assert.ok(different.every((r) => r.created));
      assert.deepEqual((await hashStream(await store.get(sha256Of(data)))).sha256, sha256Of(data));
      assert.equal((await listAll(store)).length, 5);
      assert.deepEqual(await subject.leftovers(), []);
    });

    it('puts a local file with putFile', async () => {
      const path = join(tmpdir(), `palette-blob-contract-${process.pid}-${Date.now()}.bin`);
      await writeFile(path, 'from a file');
      const put = await store.putFile(path);
      assert.equal(put.sha256, sha256Of('from a file'));
      assert.equal(String(await readAll(await store.get(put.sha256))), 'from a file');
    });

    it('stores the empty blob', async () => {
      const put = await store.put(Readable.from([]));
      assert.deepEqual(put, { sha256: sha256Of(''), size: 0, created: true });
      assert.equal((await readAll(await store.get(put.sha256))).length, 0);
      assert.equal((await readAll(await store.getRange(put.sha256, 0, 10))).length, 0);
    });

    it('reports missing blobs: get throws BlobNotFoundError, stat is null, has is false', async () => {
      await assert.rejects(store.get(MISSING), (error: unknown) => error instanceof BlobNotFoundError && error.sha256 === MISSING);
      await assert.rejects(store.getRange(MISSING, 0, 1), BlobNotFoundError);
      assert.equal(await store.stat(MISSING), null);
      assert.equal(await store.has(MISSING), false);
    });

    it('refuses strings that are not blob addresses', async () => {
      for (const bad of ['../../etc/passwd', 'ABCDEF'.padEnd(64, '0'), 'abc', `${'a'.repeat(63)}/`]) {
        await assert.rejects(store.get(bad), BlobAddressError);
        await assert.rejects(store.stat(bad), BlobAddressError);
        await assert.rejects(store.delete(bad), BlobAddressError);
      }
      await assert.rejects(store.put(Readable.from([Buffer.from('x')]), { expectedSha256: 'nope' }), BlobAddressError);
    });

    it('stats a blob with its size and a recent modification time', async () => {
      const started = Date.now();
      const { sha256 } = await store.put(Readable.from([Buffer.alloc(4321, 5)]));
      const info = await store.stat(sha256);
      assert.ok(info);
      assert.equal(info.size, 4321);
      // S3 truncates LastModified to the second.
      assert.ok(Math.abs(info.modifiedAt.getTime() - started) < 5000);
      assert.equal(await store.has(sha256), true);
    });

    it('serves inclusive byte ranges, clamps the end, and rejects ranges past the end', async () => {
      const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
      const { sha256 } = await store.put(Readable.from([data]));
      assert.deepEqual(await readAll(await store.getRange(sha256, 10, 19)), data.subarray(10, 20));
      assert.deepEqual(await readAll(await store.getRange(sha256, 0, 0)), data.subarray(0, 1));
      assert.deepEqual(await readAll(await store.getRange(sha256, 990, 5000)), data.subarray(990));
      await assert.rejects(store.getRange(sha256, 1000, 1001), BlobRangeError);
      await assert.rejects(store.getRange(sha256, 5, 4), BlobRangeError);
      await assert.rejects(store.getRange(sha256, -1, 4), BlobRangeError);
    });

    it('lists every blob with its size', async () => {
      const puts = await Promise.all(['a', 'bb', 'ccc'].map((text) => store.put(Readable.from([Buffer.from(text)]))));
      const listed = await listAll(store);
      assert.deepEqual(
        listed.map(({ sha256, size }) => ({ sha256, size })),
        puts.map(({ sha256, size }) => ({ sha256, size })).sort((a, b) => a.sha256.localeCompare(b.sha256)),
      );
      assert.ok(listed.every((entry) => entry.modifiedAt instanceof Date));
    });

    it('deletes a blob; deleting again is not an error', async () => {
      const { sha256 } = await store.put(Readable.from([Buffer.from('to delete')]));
      await store.delete(sha256);
      assert.equal(await store.has(sha256), false);
      await assert.rejects(store.get(sha256), BlobNotFoundError);
      await store.delete(sha256);
      assert.deepEqual(await listAll(store), []);
    });

    it('garbage-collects only blobs that are unreferenced and older than the grace period', async () => {
      const [kept, orphanA, orphanB] = await Promise.all(['kept', 'orphan a', 'orphan b'].map((t) => store.put(Readable.from([Buffer.from(t)]))));
      const referenced = new Set([kept.sha256]);

      const young = await store.gc(referenced, { graceMs: 60_000 });
      assert.deepEqual(young, { deleted: [], kept: 3 });

      const later = Date.now() + 120_000;
      const asked: string[] = [];
      const viaPredicate = await store.gc(
        async (sha) => {
          asked.push(sha);
          return sha === kept.sha256 || sha === orphanA.sha256;
        },
        { graceMs: 60_000, now: later },
      );
      assert.deepEqual(viaPredicate, { deleted: [orphanB.sha256], kept: 2 });
      assert.equal(asked.length, 3);

      const viaSet = await store.gc(referenced, { graceMs: 60_000, now: later });
      assert.deepEqual(viaSet, { deleted: [orphanA.sha256], kept: 1 });
      assert.deepEqual((await listAll(store)).map((e) => e.sha256), [kept.sha256]);
    });

    it('answers ping when the storage is reachable', async () => {
      await store.ping();
    });
  });
}
