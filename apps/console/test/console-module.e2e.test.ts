/**
 * registry-api's console module over HTTP (no browser): static files at /console with SPA
 * fallback and safe paths, and the same-origin gateway to the router at /api/v1/router/*
 * (checked against a stub router that records what it receives).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestApp, type TestApp } from '@palette/registry-api/testing/index';

let dist: string;
let app: TestApp;
let stub: Server;
const received: { method: string; url: string; auth: string | undefined; body: string }[] = [];

async function readBody(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

before(async () => {
  dist = await mkdtemp(path.join(tmpdir(), 'console-dist-'));
  await mkdir(path.join(dist, 'assets'));
  await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>console</title>');
  await writeFile(path.join(dist, 'assets', 'index-abc123.js'), 'console.log(1)');
  await writeFile(path.join(path.dirname(dist), `${path.basename(dist)}-secret.txt`), 'outside');

  // A stub router: streams two SSE chunks for completions, answers JSON otherwise.
  stub = createServer((req, res) => {
    void readBody(req).then((body) => {
      received.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
      if (req.url === '/v1/completions') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-adapter-id': 'legal-de@v1' });
        res.write('data: {"choices":[{"text":"he"}]}\n\n');
        setTimeout(() => res.end('data: [DONE]\n\n'), 20);
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'model x not found', type: 'invalid_request_error', code: 'model_not_found' } }));
      }
    });
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  process.env.CONSOLE_DIST_DIR = dist;
  process.env.ROUTER_URL = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/`;
  process.env.ROUTER_API_KEY = 'router-secret';
  app = await createTestApp();
});

after(async () => {
  await app?.close();
  stub?.close();
  delete process.env.ROUTER_URL;
  delete process.env.ROUTER_API_KEY;
  if (dist) {
    await rm(dist, { recursive: true, force: true });
    await rm(`${dist}-secret.txt`, { force: true });
  }
});

describe('console static files', () => {
  it('serves index.html at /console and for client routes, without a key', async () => {
    for (const route of ['/console', '/console/', '/console/adapters/legal-de', '/console/jobs/abc']) {
      const res = await app.http.get(route).expect(200);
      assert.match(res.headers['content-type']!, /text\/html/, route);
      assert.equal(res.headers['cache-control'], 'no-cache', route);
      assert.match(res.text, /<title>console<\/title>/, route);
    }
  });

  it('serves fingerprinted assets as immutable with their content type', async () => {
    const res = await app.http.get('/console/assets/index-abc123.js').expect(200);
    assert.match(res.headers['content-type']!, /text\/javascript/);
    assert.match(res.headers['cache-control']!, /immutable/);
    assert.equal(res.text, 'console.log(1)');
  });

  it('answers 404 for a missing asset instead of index.html, and never leaves the build folder', async () => {
    const missing = await app.http.get('/console/assets/missing.js').expect(404);
    assert.equal(missing.body.error.code, 'NOT_FOUND');
    for (const route of [`/console/..%2F${path.basename(dist)}-secret.txt`, '/console/%2e%2e/%2e%2e/package.json', '/console/assets/..%2F..%2F..%2Fetc%2Fpasswd']) {
      const res = await app.http.get(route);
      assert.notEqual(res.text, 'outside', route);
      assert.ok(res.status === 404 || /<title>console/.test(res.text), `${route}: ${res.status}`);
    }
  });
});

describe('router gateway', () => {
  it('needs a registry key', async () => {
    await app.http.get('/api/v1/router/v1/models').expect(401);
  });

  it('relays a streamed completion with the router key and the router headers', async () => {
    const res = await app.http.post('/api/v1/router/v1/completions').set('authorization', `Bearer ${await app.keyFor('reader')}`).send({ model: 'tiny', prompt: 'hi', stream: true }).expect(200);
    assert.match(res.headers['content-type']!, /text\/event-stream/);
    assert.equal(res.headers['x-adapter-id'], 'legal-de@v1');
    assert.equal(res.text, 'data: {"choices":[{"text":"he"}]}\n\ndata: [DONE]\n\n');
    const call = received.at(-1)!;
    assert.deepEqual([call.method, call.url, call.auth], ['POST', '/v1/completions', 'Bearer router-secret']);
    assert.deepEqual(JSON.parse(call.body), { model: 'tiny', prompt: 'hi', stream: true });
  });

  it('passes the router\'s own errors through and refuses routes it does not forward', async () => {
    const key = await app.keyFor('reader');
    const res = await app.http.get('/api/v1/router/v1/models').set('authorization', `Bearer ${key}`).expect(404);
    assert.equal(res.body.error.code, 'model_not_found');
    const before = received.length;
    await app.http.post('/api/v1/router/v1/load_lora_adapter').set('authorization', `Bearer ${key}`).send({ lora_name: 'x' }).expect(404);
    assert.equal(received.length, before, 'admin routes never reach the router');
  });
});

describe('console module without a build or a router', () => {
  let bare: TestApp;
  let empty: string;
  before(async () => {
    empty = await mkdtemp(path.join(tmpdir(), 'console-empty-'));
    process.env.CONSOLE_DIST_DIR = empty;
    delete process.env.ROUTER_URL;
    bare = await createTestApp();
  });
  after(async () => {
    await bare?.close();
    if (empty) await rm(empty, { recursive: true, force: true });
  });

  it('says how to build the console, and that no router is configured', async () => {
    const page = await bare.http.get('/console/adapters').expect(503);
    assert.match(page.body.error.message, /npm run build -w apps\/console/);
    const router = await bare.http.get('/api/v1/router/v1/models').set('authorization', `Bearer ${await bare.keyFor('reader')}`).expect(503);
    assert.match(router.body.error.message, /ROUTER_URL/);
  });
});
