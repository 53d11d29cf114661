/**
 * A registry whose Redis goes away: GET /api/v1/system/queues answers 200 with redis 'unavailable'
 * within its 2 s deadline (the queue connections retry forever, so without the deadline the request
 * would hang), and closing the app does not wait for Redis to come back. Covers both a Redis that
 * was up and was killed, and a REDIS_URL where nothing ever listened.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { createTestApp, type TestApp } from '../../src/testing';
import { startRedisServer } from '../../../../tools/testing/redis-server';
import { QUEUE_HEALTH_TIMEOUT_MS } from '../../src/jobs/queue-health.service';
import type { QueuesHealthDto } from '../../src/jobs/queue-health.dto';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
/** What "closes within a few seconds" means here: well under any test timeout, well over a clean close. */
const CLOSE_BUDGET_MS = 5_000;

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function timedClose(t: TestApp): Promise<number> {
  const started = performance.now();
  await t.close();
  return performance.now() - started;
}

async function expectUnavailable(t: TestApp, key: string): Promise<void> {
  const started = performance.now();
  const res = await t.http.get('/api/v1/system/queues').set(auth(key)).expect(200);
  const elapsed = performance.now() - started;
  const body = res.body as QueuesHealthDto;
  assert.equal(body.redis, 'unavailable');
  assert.deepEqual(body.queues, []);
  assert.match(body.error ?? '', /Redis did not answer within 2000 ms/);
  // The deadline, not a hang and not an instant answer from a cached state.
  assert.ok(elapsed >= QUEUE_HEALTH_TIMEOUT_MS - 50 && elapsed < QUEUE_HEALTH_TIMEOUT_MS + 3_000, `answered after ${elapsed.toFixed(0)} ms`);
}

describe('GET /api/v1/system/queues when Redis dies', () => {
  let t: TestApp | undefined;
  after(async () => {
    await t?.close();
  });

  it("answers 'unavailable' after the deadline, then the app closes within a few seconds", async () => {
    const redis = await startRedisServer();
    t = await createTestApp({ env: { REDIS_URL: redis.url } });
    const reader = await t.keyFor('reader');
    const up = await t.http.get('/api/v1/system/queues').set(auth(reader)).expect(200);
    assert.equal((up.body as QueuesHealthDto).redis, 'ok');

    await redis.stop();
    await expectUnavailable(t, reader);

    const closeMs = await timedClose(t);
    t = undefined;
    assert.ok(closeMs < CLOSE_BUDGET_MS, `close took ${closeMs.toFixed(0)} ms with Redis dead`);
  });
});

describe('GET /api/v1/system/queues with nothing listening at REDIS_URL', () => {
  let t: TestApp | undefined;
  after(async () => {
    await t?.close();
  });

  it("answers 'unavailable' after the deadline, and the app still closes within a few seconds", async () => {
    t = await createTestApp({ env: { REDIS_URL: `redis://127.0.0.1:${await unusedPort()}` } });
    await expectUnavailable(t, await t.keyFor('reader'));
    const closeMs = await timedClose(t);
    t = undefined;
    assert.ok(closeMs < CLOSE_BUDGET_MS, `close took ${closeMs.toFixed(0)} ms with no Redis`);
  });
});
