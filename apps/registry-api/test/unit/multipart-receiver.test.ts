import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { CatalogError } from '../../src/catalog/catalog-errors';
import { receiveMultipart, type MultipartPolicy } from '../../src/catalog/uploads/multipart-receiver';
import { TempWorkspace } from '../../src/catalog/uploads/temp-workspace';

const policy: MultipartPolicy = {
  fileLimit: (field) => ({ adapter_config: 100, adapter_model: 10_000 })[field],
  maxTotalBytes: 10_050,
  maxFiles: 3,
  maxFieldBytes: 32,
  maxFields: 4,
};

describe('receiveMultipart', () => {
  let tmp: string;
  let server: http.Server;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'multipart-test-'));
    // A bare HTTP server: the receiver is exercised exactly as a Nest handler would call it.
    server = http.createServer((req, res) => {
      void (async () => {
        const ws = await TempWorkspace.create(tmp, 'ws');
        let status = 200;
        let body: unknown;
        try {
          const got = await receiveMultipart(req, ws, policy);
          const files: Record<string, unknown> = {};
          for (const [k, f] of got.files) {
            const bytes = await readFile(f.path);
            files[k] = { size: f.size, sha256: f.sha256, actual: createHash('sha256').update(bytes).digest('hex'), fileName: f.fileName };
          }
          body = { files, fields: Object.fromEntries(got.fields) };
        } catch (err) {
          const e = err as CatalogError;
          status = e instanceof CatalogError ? 400 : 500;
          body = { code: e.code, message: e.message };
        } finally {
          await ws.dispose();
        }
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(tmp, { recursive: true, force: true });
  });

  it('streams files to disk with their sha256 and collects fields', async () => {
    const weights = Buffer.alloc(9000, 3);
    const res = await request(server)
      .post('/')
      .field('name', 'demo')
      .attach('adapter_config', Buffer.from('{"peft_type":"LORA"}'), 'adapter_config.json')
      .attach('adapter_model', weights, 'adapter_model.safetensors')
      .expect(200);
    const body = res.body as { files: Record<string, { size: number; sha256: string; actual: string }>; fields: Record<string, string> };
    assert.equal(body.fields.name, 'demo');
    assert.equal(body.files.adapter_model.size, 9000);
    assert.equal(body.files.adapter_model.sha256, createHash('sha256').update(weights).digest('hex'));
    assert.equal(body.files.adapter_config.sha256, body.files.adapter_config.actual);
    assert.deepEqual(await readdir(tmp), [], 'temp workspace removed');
  });

  const failures: Array<[string, (r: request.Test) => request.Test, RegExp, string]> = [
    ['a file over its limit', (r) => r.attach('adapter_config', Buffer.alloc(101, 32), 'c.json'), /file 'adapter_config' exceeds the limit of 100 bytes/, 'PAYLOAD_TOO_LARGE'],
    [
      'files over the total limit',
      (r) => r.attach('adapter_config', Buffer.alloc(100, 32), 'c.json').attach('adapter_model', Buffer.alloc(9990), 'm'),
      /upload exceeds the limit/,
      'PAYLOAD_TOO_LARGE',
    ],
    ['an unexpected file field', (r) => r.attach('evil', Buffer.from('x'), 'evil.sh'), /unexpected file field 'evil'/, 'VALIDATION_FAILED'],
    [
      'a repeated file field',
      (r) => r.attach('adapter_config', Buffer.from('{}'), 'a.json').attach('adapter_config', Buffer.from('{}'), 'b.json'),
      /'adapter_config' was sent more than once/,
      'VALIDATION_FAILED',
    ],
    ['an oversized text field', (r) => r.field('name', 'x'.repeat(40)), /field 'name' exceeds 32 bytes/, 'PAYLOAD_TOO_LARGE'],
  ];
  for (const [label, build, message, code] of failures) {
    it(`rejects ${label}`, async () => {
      const res = await build(request(server).post('/')).expect(400);
      assert.equal(res.body.code, code);
      assert.match(res.body.message, message);
      assert.deepEqual(await readdir(tmp), []);
    });
  }

  it('rejects a body that is not multipart', async () => {
    const res = await request(server).post('/').set('content-type', 'application/json').send('{"a":1}').expect(400);
    assert.equal(res.body.code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.match(res.body.message, /expected a multipart\/form-data upload, got content type 'application\/json'/);
  });
});
