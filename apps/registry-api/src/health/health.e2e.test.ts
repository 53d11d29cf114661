import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '../testing';

describe('health, metrics and request ids', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t?.close();
  });

  it('GET /healthz is public and answers ok', async () => {
    const res = await t.http.get('/healthz').expect(200);
    assert.deepEqual(res.body, { status: 'ok' });
  });

  it('GET /readyz checks the database and the blob store', async () => {
    const res = await t.http.get('/readyz').expect(200);
    assert.deepEqual(res.body, { status: 'ready', checks: { database: { ok: true }, blobStore: { ok: true } } });
  });

  it('echoes a client x-request-id and logs the request under it', async () => {
    const res = await t.http.get('/healthz').set('x-request-id', 'trace-abc.123').expect(200);
    assert.equal(res.headers['x-request-id'], 'trace-abc.123');
    const line = t.logs().find((l) => l.reqId === 'trace-abc.123' && l.msg === 'request completed');
    assert.ok(line, 'access log line with the request id');
    assert.equal(line.status, 200);
    assert.equal(line.route, '/healthz');
  });

  it('keeps the request id in logs written by handlers after the JSON body was read', async () => {
    await t.http.post('/api/v1/keys').set('x-api-key', t.adminKey).set('x-request-id', 'create-key-1').send({ name: 'logged', role: 'reader' }).expect(201);
    const line = t.logs().find((l) => l.msg === 'api key created' && l.name === 'logged');
    assert.ok(line);
    assert.equal(line.reqId, 'create-key-1');
  });

  it('generates a request id when the client sends none or a malformed one', async () => {
    const fresh = await t.http.get('/healthz').expect(200);
    assert.match(String(fresh.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const forged = await t.http.get('/healthz').set('x-request-id', 'bad id with spaces {"json":1}').expect(200);
    assert.notEqual(forged.headers['x-request-id'], 'bad id with spaces {"json":1}');
    assert.match(String(forged.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('GET /metrics exposes the request histogram by route pattern, method and status', async () => {
    await t.http.get('/api/v1/keys/does-not-exist-route/x').set('x-api-key', t.adminKey);
    const res = await t.http.get('/metrics').expect(200);
    assert.match(String(res.headers['content-type']), /text\/plain/);
    assert.match(res.text, /http_request_duration_seconds_count\{route="\/healthz",method="GET",status="200"\} \d+/);
    assert.match(res.text, /http_request_duration_seconds_count\{route="unmatched",method="GET",status="404"\} 1/);
    assert.match(res.text, /process_cpu_user_seconds_total/);
    assert.match(res.text, /registry_db_transactions_queued 0/);
  });

  it('unknown routes get the JSON error shape', async () => {
    const res = await t.http.get('/nope').set('x-api-key', t.adminKey).expect(404);
    assert.equal(res.body.error.code, 'NOT_FOUND');
    assert.equal(typeof res.body.error.message, 'string');
  });
});

describe('readiness when a dependency is down', () => {
  it('answers 503 naming the failed check while liveness stays 200', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'registry-notready-'));
    // A regular file where the blob directory's parent should be: the store cannot create its root.
    writeFileSync(path.join(dataDir, 'not-a-dir'), '');
    const t = await createTestApp({ dataDir, env: { BLOB_DIR: path.join(dataDir, 'not-a-dir', 'blobs') } });
    try {
      const res = await t.http.get('/readyz').expect(503);
      assert.equal(res.body.status, 'not_ready');
      assert.deepEqual(res.body.checks.database, { ok: true });
      assert.equal(res.body.checks.blobStore.ok, false);
      assert.match(res.body.checks.blobStore.error, /not writable/);
      await t.http.get('/healthz').expect(200);
    } finally {
      await t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
