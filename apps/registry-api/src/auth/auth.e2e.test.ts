import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DatabaseService } from '../database/database.service';
import { createTestApp, type TestApp } from '../testing';

describe('API keys over REST', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t?.close();
  });

  it('rejects requests without a key, with a malformed key, and with an unknown key (401)', async () => {
    const missing = await t.http.get('/api/v1/keys').expect(401);
    assert.equal(missing.body.error.code, 'UNAUTHENTICATED');
    const malformed = await t.http.get('/api/v1/keys').set('x-api-key', 'hello').expect(401);
    assert.equal(malformed.body.error.code, 'UNAUTHENTICATED');
    const [, publicId] = /^plt_([a-z0-9]+)_/.exec(t.adminKey)!;
    const wrongSecret = `plt_${publicId}_${'A'.repeat(43)}`;
    await t.http.get('/api/v1/keys').set('x-api-key', wrongSecret).expect(401);
  });

  it('accepts the bootstrap admin key by x-api-key and by Bearer', async () => {
    const viaHeader = await t.http.get('/api/v1/keys').set('x-api-key', t.adminKey).expect(200);
    assert.equal(viaHeader.body.length, 1);
    assert.equal(viaHeader.body[0].name, 'bootstrap-admin');
    assert.equal(viaHeader.body[0].role, 'admin');
    assert.equal('secretHash' in viaHeader.body[0], false);
    await t.http.get('/api/v1/keys').set('authorization', `Bearer ${t.adminKey}`).expect(200);
  });

  it('creates a key shown once, enforces roles (403), revokes it (401 afterwards) and audits both', async () => {
    const created = await t.http.post('/api/v1/keys').set('x-api-key', t.adminKey).send({ name: 'ci reader', role: 'reader' }).expect(201);
    assert.match(created.body.key, /^plt_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal(created.body.role, 'reader');
    const readerKey: string = created.body.key;

    const listed = await t.http.get('/api/v1/keys').set('x-api-key', t.adminKey).expect(200);
    const row = listed.body.find((k: { id: string }) => k.id === created.body.id);
    assert.equal(row.key, undefined, 'the list never shows the key');

    const forbidden = await t.http.get('/api/v1/keys').set('x-api-key', readerKey).expect(403);
    assert.equal(forbidden.body.error.code, 'FORBIDDEN');
    assert.equal(forbidden.body.error.details.required, 'admin');

    const revoked = await t.http.delete(`/api/v1/keys/${created.body.id}`).set('x-api-key', t.adminKey).expect(200);
    assert.ok(revoked.body.revokedAt);
    const after = await t.http.get('/healthz').set('x-api-key', readerKey).expect(200); // public still works
    assert.equal(after.body.status, 'ok');
    await t.http.post('/graphql').set('x-api-key', readerKey).send({ query: '{ me { name } }' }).expect((res) => {
      assert.equal(res.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    });

    const db = t.app.get(DatabaseService);
    const audit = await db.prisma.auditLog.findMany({ where: { entityId: created.body.id }, orderBy: { at: 'asc' } });
    assert.deepEqual(audit.map((a) => a.action), ['api_key.create', 'api_key.revoke']);
    const adminRow = listed.body.find((k: { name: string }) => k.name === 'bootstrap-admin');
    assert.equal(audit[0]!.actorKeyId, adminRow.id);
  });

  it('validates the create body and names every bad field', async () => {
    const res = await t.http.post('/api/v1/keys').set('x-api-key', t.adminKey).send({ name: '', role: 'root' }).expect(400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    assert.match(res.body.error.message, /name/);
    assert.match(res.body.error.message, /role/);
  });

  it('answers malformed JSON with 400 in the error shape, not 500', async () => {
    const res = await t.http
      .post('/api/v1/keys')
      .set('x-api-key', t.adminKey)
      .set('content-type', 'application/json')
      .send('{"name": ')
      .expect(400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
  });

  it('revoking an unknown key is a 404', async () => {
    const res = await t.http.delete('/api/v1/keys/00000000-0000-0000-0000-000000000000').set('x-api-key', t.adminKey).expect(404);
    assert.equal(res.body.error.code, 'NOT_FOUND');
  });

  it('writes lastUsedAt at most once per interval', async () => {
    const key = await t.keyFor('writer');
    const db = t.app.get(DatabaseService);
    const [, publicId] = /^plt_([a-z0-9]+)_/.exec(key)!;
    await t.http.get('/graphql?query=%7Bme%7Bname%7D%7D').set('x-api-key', key).set('apollo-require-preflight', '1').expect(200);
    const first = await db.prisma.apiKey.findUniqueOrThrow({ where: { publicId } });
    assert.ok(first.lastUsedAt);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await t.http.get('/graphql?query=%7Bme%7Bname%7D%7D').set('x-api-key', key).set('apollo-require-preflight', '1').expect(200);
    const second = await db.prisma.apiKey.findUniqueOrThrow({ where: { publicId } });
    assert.equal(second.lastUsedAt!.getTime(), first.lastUsedAt.getTime(), 'no second write within the interval');
  });

  it('serves verified keys from memory until KEY_CACHE_TTL_MS, and forgets a key revoked elsewhere after it', async () => {
    const cached = await createTestApp({ env: { KEY_CACHE_TTL_MS: '300' } });
    try {
      const key = await cached.keyFor('reader');
      const [, publicId] = /^plt_([a-z0-9]+)_/.exec(key)!;
      await cached.http.get('/api/v1/adapters').set('x-api-key', key).expect(200);
      // Revoked behind the service's back, as another replica on the same Postgres would.
      await cached.app.get(DatabaseService).prisma.apiKey.update({ where: { publicId }, data: { revokedAt: new Date() } });
      await cached.http.get('/api/v1/adapters').set('x-api-key', key).expect(200);
      await new Promise((resolve) => setTimeout(resolve, 350));
      await cached.http.get('/api/v1/adapters').set('x-api-key', key).expect(401);
    } finally {
      await cached.close();
    }
  });
});

describe('GraphQL and OpenAPI', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t?.close();
  });

  it('me returns the calling key name and role', async () => {
    const writer = await t.keyFor('writer');
    const res = await t.http.post('/graphql').set('authorization', `Bearer ${writer}`).send({ query: '{ me { name role } }' }).expect(200);
    assert.deepEqual(res.body.data.me, { name: 'test-writer', role: 'writer' });
  });

  it('me without a key fails with extensions.code UNAUTHENTICATED', async () => {
    const res = await t.http.post('/graphql').send({ query: '{ me { name } }' });
    assert.equal(res.body.errors[0].extensions.code, 'UNAUTHENTICATED');
    assert.equal(res.body.errors[0].extensions.status, 401);
  });

  it('invalid queries are VALIDATION_FAILED', async () => {
    const res = await t.http.post('/graphql').set('x-api-key', t.adminKey).send({ query: '{ me { nope } }' });
    assert.equal(res.body.errors[0].extensions.code, 'VALIDATION_FAILED');
  });

  it('serves Swagger JSON with the API key security scheme and the key routes', async () => {
    const res = await t.http.get('/api/docs-json').expect(200);
    assert.equal(res.body.components.securitySchemes['api-key'].name, 'x-api-key');
    assert.ok(res.body.paths['/api/v1/keys'].post);
    assert.ok(res.body.paths['/api/v1/keys/{id}'].delete);
    const ui = await t.http.get('/api/docs/').expect(200);
    assert.match(ui.text, /swagger/i);
  });
});

describe('bootstrap admin key', () => {
  it('is created once, logged, written to BOOTSTRAP_KEY_FILE with mode 0600, and not again after a restart', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'registry-bootstrap-'));
    const file = path.join(dataDir, 'secrets', 'admin.key');
    const t = await createTestApp({ dataDir, env: { BOOTSTRAP_KEY_FILE: file } });
    try {
      assert.equal(t.config.bootstrapKeyFile, file);
      assert.equal(readFileSync(file, 'utf8').trim(), t.adminKey);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const announced = t.logs().filter((l) => l.bootstrapKey !== undefined);
      assert.equal(announced.length, 1);
      assert.equal(announced[0]!.bootstrapKey, t.adminKey);
      await t.restart();
      assert.equal(t.logs().filter((l) => l.bootstrapKey !== undefined).length, 1, 'no second bootstrap key');
      await t.http.get('/api/v1/keys').set('x-api-key', t.adminKey).expect(200);
    } finally {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
