import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import type { BlobStore } from '@palette/object-store';
import { DatabaseService } from '../database/database.service';
import { createTestApp, type TestApp } from '../testing';
import { BLOB_STORE } from './blob-store.provider';

describe('blob garbage collection via BlobRef', () => {
  let t: TestApp;
  let blobs: BlobStore;
  let db: DatabaseService;
  before(async () => {
    t = await createTestApp();
    blobs = t.app.get<BlobStore>(BLOB_STORE);
    db = t.app.get(DatabaseService);
  });
  after(async () => {
    await t?.close();
  });

  it('deletes only blobs that no BlobRef names and that are past the grace period', async () => {
    const referenced = await blobs.put(Readable.from([Buffer.from('kept: referenced')]));
    const orphan = await blobs.put(Readable.from([Buffer.from('collected: nobody refers to me')]));
    await db.prisma.blobRef.create({ data: { sha256: referenced.sha256, ownerType: 'Test', ownerId: 'owner-1' } });

    // Within the default grace period (24 h) nothing goes, referenced or not.
    const young = await t.http.post('/api/v1/internal/blobs/gc').set('x-api-key', t.adminKey).expect(200);
    assert.deepEqual(young.body.deleted, []);
    assert.ok(await blobs.has(orphan.sha256));

    // With no grace period only the orphan goes.
    const old = await t.http.post('/api/v1/internal/blobs/gc?graceMs=0').set('x-api-key', t.adminKey).expect(200);
    assert.deepEqual(old.body.deleted, [orphan.sha256]);
    assert.equal(old.body.graceMs, 0);
    assert.equal(await blobs.has(orphan.sha256), false);
    assert.equal(await blobs.has(referenced.sha256), true);

    // Dropping the last reference makes the blob collectable.
    await db.prisma.blobRef.deleteMany({ where: { sha256: referenced.sha256 } });
    const report = await t.http.post('/api/v1/internal/blobs/gc?graceMs=0').set('x-api-key', t.adminKey).expect(200);
    assert.deepEqual(report.body.deleted, [referenced.sha256]);

    const audits = await db.prisma.auditLog.count({ where: { action: 'blob.gc' } });
    assert.equal(audits, 3);
  });

  it('is admin-only and validates graceMs', async () => {
    await t.http.post('/api/v1/internal/blobs/gc').set('x-api-key', await t.keyFor('writer')).expect(403);
    const bad = await t.http.post('/api/v1/internal/blobs/gc?graceMs=-5').set('x-api-key', t.adminKey).expect(400);
    assert.equal(bad.body.error.code, 'VALIDATION_FAILED');
  });
});
