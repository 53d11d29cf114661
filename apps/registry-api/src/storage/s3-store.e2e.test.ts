import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { BlobStore } from '@palette/object-store';
import { createTestApp, type TestApp } from '../testing';
import { BLOB_STORE } from './blob-store.provider';

describe('BLOB_STORE=s3 (s3rver)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ blobStore: 's3' });
  });
  after(async () => {
    await t?.close();
  });

  it('builds the S3 store from config, reports it ready, and collects garbage there', async () => {
    const blobs = t.app.get<BlobStore>(BLOB_STORE);
    assert.match(blobs.description, /^s3:/);
    const ready = await t.http.get('/readyz').expect(200);
    assert.deepEqual(ready.body.checks.blobStore, { ok: true });
    const orphan = await blobs.put(Readable.from([Buffer.from('orphan on s3')]));
    const report = await t.http.post('/api/v1/internal/blobs/gc?graceMs=0').set('x-api-key', t.adminKey).expect(200);
    assert.deepEqual(report.body.deleted, [orphan.sha256]);
  });
});
