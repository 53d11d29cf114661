import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client, CopyDestinationOptions, CopySourceOptions } from 'minio';
import { startTestS3Server, type TestS3Server } from '../src/testing/s3-server';
import { readAll } from './blob-fixtures';

const MIB = 1024 * 1024;

describe('startTestS3Server', () => {
  let server: TestS3Server;
  let client: Client;
  before(async () => {
    server = await startTestS3Server({ bucket: 'server-check' });
    client = new Client({
      endPoint: server.endPoint,
      port: server.port,
      useSSL: server.useSSL,
      accessKey: server.accessKey,
      secretKey: server.secretKey,
      partSize: 5 * MIB,
    });
  });
  after(async () => {
    await server.stop();
  });

  it('listens on 127.0.0.1 with the requested bucket already created', async () => {
    assert.equal(server.endPoint, '127.0.0.1');
    assert.ok(server.port > 0);
    assert.equal(await client.bucketExists('server-check'), true);
  });

  it('completes a plain minio multipart putObject of an unknown-length stream over 5 MiB', async () => {
    const data = randomBytes(11 * MIB + 7);
    // No size: the minio client splits the stream into 5 MiB parts itself.
    await client.putObject('server-check', 'multipart/object', Readable.from([data.subarray(0, 3 * MIB), data.subarray(3 * MIB)]));
    const read = await readAll(await client.getObject('server-check', 'multipart/object'));
    assert.equal(createHash('sha256').update(read).digest('hex'), createHash('sha256').update(data).digest('hex'));
  });

  it('copies objects server-side, and a self-copy with REPLACE refreshes LastModified', async () => {
    await client.putObject('server-check', 'copy/source', Buffer.from('copy me'));
    await client.copyObject(
      new CopySourceOptions({ Bucket: 'server-check', Object: 'copy/source' }),
      new CopyDestinationOptions({ Bucket: 'server-check', Object: 'copy/target' }),
    );
    assert.equal(String(await readAll(await client.getObject('server-check', 'copy/target'))), 'copy me');
    const before = (await client.statObject('server-check', 'copy/source')).lastModified.getTime();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await client.copyObject(
      new CopySourceOptions({ Bucket: 'server-check', Object: 'copy/source' }),
      new CopyDestinationOptions({ Bucket: 'server-check', Object: 'copy/source', MetadataDirective: 'REPLACE' }),
    );
    assert.ok((await client.statObject('server-check', 'copy/source')).lastModified.getTime() > before);
  });

  it('serves single-byte and open-ended ranges like S3', async () => {
    await client.putObject('server-check', 'range/object', Buffer.from('0123456789'));
    assert.equal(String(await readAll(await client.getPartialObject('server-check', 'range/object', 0, 1))), '0');
    assert.equal(String(await readAll(await client.getPartialObject('server-check', 'range/object', 7))), '789');
  });

  it('runs several servers side by side and stops each one (twice is harmless)', async () => {
    const [a, b] = await Promise.all([startTestS3Server(), startTestS3Server()]);
    assert.notEqual(a.port, b.port);
    await Promise.all([a.stop(), b.stop()]);
    await a.stop();
    const stopped = new Client({ endPoint: a.endPoint, port: a.port, useSSL: false, accessKey: a.accessKey, secretKey: a.secretKey });
    await assert.rejects(stopped.bucketExists(a.bucket));
  });
});
