import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createBlobStore, type BlobStore } from '../src/index';
import { startTestS3Server, type TestS3Server } from '../src/testing/s3-server';
import { generatedStream, hashStream } from './blob-fixtures';

const MIB = 1024 * 1024;
const BLOB_BYTES = 200 * MIB;
/** Far below the blob: proves no driver holds it whole. Leaves room for part buffers and GC lag. */
const MAX_RSS_GROWTH = 80 * MIB;

/** Runs `work` while sampling RSS, and returns the largest growth seen over the starting value. */
async function peakRssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  global.gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, growth: peak - baseline };
  } finally {
    clearInterval(timer);
  }
}

async function roundTripBounded(store: BlobStore): Promise<string> {
  const source = generatedStream(BLOB_BYTES);
  const put = await peakRssGrowth(() => store.put(source.stream));
  assert.equal(put.result.sha256, await source.sha256);
  assert.equal(put.result.size, BLOB_BYTES);
  assert.ok(put.growth < MAX_RSS_GROWTH, `put grew RSS by ${(put.growth / MIB).toFixed(1)} MiB for a ${BLOB_BYTES / MIB} MiB blob`);

  const read = await peakRssGrowth(async () => hashStream(await store.get(put.result.sha256)));
  assert.deepEqual(read.result, { sha256: put.result.sha256, size: BLOB_BYTES });
  assert.ok(read.growth < MAX_RSS_GROWTH, `get grew RSS by ${(read.growth / MIB).toFixed(1)} MiB for a ${BLOB_BYTES / MIB} MiB blob`);
  return `peak RSS growth: put ${(put.growth / MIB).toFixed(1)} MiB, get ${(read.growth / MIB).toFixed(1)} MiB`;
}

describe('streaming a 200 MiB blob keeps memory bounded', () => {
  let root: string;
  let server: TestS3Server;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'palette-memory-'));
    server = await startTestS3Server();
  });
  after(async () => {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('dir driver', async (t) => {
    t.diagnostic(await roundTripBounded(createBlobStore({ driver: 'dir', root: join(root, 'blobs') })));
  });

  it('s3 driver (spool + 16 MiB multipart parts)', async (t) => {
    const { endPoint, port, accessKey, secretKey, bucket } = server;
    t.diagnostic(await roundTripBounded(createBlobStore({ driver: 's3', endPoint, port, accessKey, secretKey, bucket, spoolDir: join(root, 'spool') })));
  });
});
