import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createTestApp } from '../../testing';

// app.close() (and SIGTERM via enableShutdownHooks) must let requests already being served finish,
// database work included, before the database closes in onApplicationShutdown.
describe('graceful shutdown', () => {
  it('lets a request in flight finish (database included) before the app closes', async () => {
    const t = await createTestApp();
    try {
      await t.app.listen(0, '127.0.0.1');
      const { port } = t.app.getHttpServer().address() as AddressInfo;
      const body = JSON.stringify({ name: 'in-flight', role: 'reader' });
      const responded = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, method: 'POST', path: '/api/v1/keys', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': t.adminKey } },
          (res: IncomingMessage) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        // Half the body now, the rest after shutdown has begun.
        req.write(body.slice(0, 10));
        setTimeout(() => req.end(body.slice(10)), 300);
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closing = t.app.close();
      const result = await responded;
      await closing;
      assert.equal(result.status, 201, result.body);
      assert.equal(JSON.parse(result.body).name, 'in-flight');
    } finally {
      await t.close();
    }
  });
});
