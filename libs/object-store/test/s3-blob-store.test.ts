import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client } from 'minio';
import { BlobStoreConfigError, BlobStoreUnavailableError, createBlobStore, S3BlobStore, type S3BlobStoreOptions } from '../src/index';
import { startTestS3Server, type TestS3Server } from '../src/testing/s3-server';
import { generatedStream, hashStream } from './blob-fixtures';
import { describeBlobStoreContract } from './blob-store-contract';

const MIB = 1024 * 1024;
let server: TestS3Server;
let storeCount = 0;

function serverOptions(overrides: Partial<S3BlobStoreOptions> = {}): S3BlobStoreOptions {
  return {
    endPoint: server.endPoint,
    port: server.port,
    useSSL: false,
    accessKey: server.accessKey,
    secretKey: server.secretKey,
    bucket: server.bucket,
    // A fresh prefix per store: every test sees an empty namespace on the shared server.
    prefix: `run-${process.pid}-${storeCount++}`,
    // The smallest part S3 allows, so the 20 MB contract blob goes through multipart upload.
    partSize: 5 * MIB,
    ...overrides,
  };
}

before(async () => {
  server = await startTestS3Server();
});
after(async () => {
  await server?.stop();
});

describeBlobStoreContract('s3', async () => {
  const spoolDir = await mkdtemp(join(tmpdir(), 'palette-s3-spool-'));
  return {
    store: createBlobStore({ driver: 's3', ...serverOptions({ spoolDir }) }),
    leftovers: () => readdir(spoolDir),
    // S3 has no portable put-if-absent: two processes racing can both report created.
    exactlyOneCreatedOnRace: false,
    cleanup: () => rm(spoolDir, { recursive: true, force: true }),
  };
});

describe('S3BlobStore specifics', () => {
  it('creates a missing bucket on first use and writes keys as <prefix>/ab/cd/<sha256>', async () => {
    const bucket = `fresh-${process.pid}-${Date.now()}`;
    const store = new S3BlobStore(serverOptions({ bucket, prefix: 'blobs' }));
    await store.ping();
    const { sha256 } = await store.put(Readable.from([Buffer.from('keyed')]));
    const client = new Client({ endPoint: server.endPoint, port: server.port, useSSL: false, accessKey: server.accessKey, secretKey: server.secretKey });
    const keys: string[] = [];
    for await (const item of client.listObjectsV2(bucket, '', true) as AsyncIterable<{ name: string }>) keys.push(item.name);
    assert.deepEqual(keys, [`blobs/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`]);
    assert.match(store.description, new RegExp(`/${bucket}/blobs/$`));
  });

  it('uploads a blob larger than the part size in parts and reads it back by range', async () => {
    const store = new S3BlobStore(serverOptions());
    const source = generatedStream(12 * MIB + 1);
    const put = await store.put(source.stream);
    assert.equal(put.sha256, await source.sha256);
    assert.deepEqual(await hashStream(await store.getRange(put.sha256, 0, 12 * MIB)), { sha256: put.sha256, size: 12 * MIB + 1 });
  });

  it('rejects a part size below the S3 minimum and incomplete options', () => {
    assert.throws(() => new S3BlobStore(serverOptions({ partSize: MIB })), BlobStoreConfigError);
    assert.throws(() => new S3BlobStore(serverOptions({ bucket: '' })), BlobStoreConfigError);
  });

  it('fails ping with BlobStoreUnavailableError when the server is unreachable', async () => {
    const store = new S3BlobStore(serverOptions({ port: 1 }));
    await assert.rejects(store.ping(), BlobStoreUnavailableError);
  });
});
