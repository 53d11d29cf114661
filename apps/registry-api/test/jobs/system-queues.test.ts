/**
 * GET /api/v1/system/queues against a real redis-server: job counts by state for every queue and the
 * workers connected to each (a plain BullMQ Worker created here on the train queue), and
 * 'unconfigured' with empty queues on a registry without REDIS_URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { JOB_KINDS, QUEUE_NAMES, redisConnectionOptions } from '@palette/job-contracts';
import { createTestApp, type TestApp } from '../../src/testing';
import { startRedisServer, type RedisServer } from '../../../../tools/testing/redis-server';
import type { QueuesHealthDto } from '../../src/jobs/queue-health.dto';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const WORKER_NAME = 'health-probe';

describe('GET /api/v1/system/queues', () => {
  let redis: RedisServer;
  let t: TestApp;
  let reader: string;
  let train: Queue;
  let embed: Queue;
  let trainEvents: QueueEvents;
  let worker: Worker;

  before(async () => {
    redis = await startRedisServer();
    t = await createTestApp({ env: { REDIS_URL: redis.url } });
    reader = await t.keyFor('reader');
    const connection = redisConnectionOptions(redis.url);
    train = new Queue(QUEUE_NAMES.train, { connection });
    embed = new Queue(QUEUE_NAMES.embed, { connection });
    trainEvents = new QueueEvents(QUEUE_NAMES.train, { connection });
    await trainEvents.waitUntilReady();
    worker = new Worker(QUEUE_NAMES.train, async () => 'done', { connection, name: WORKER_NAME });
    await worker.waitUntilReady();
    // One completed train job, one delayed train job the worker will not take yet, two waiting embed jobs (no worker).
    const done = await train.add('probe', {});
    await done.waitUntilFinished(trainEvents, 5_000);
    await train.add('later', {}, { delay: 60_000 });
    await embed.addBulk([{ name: 'a', data: {} }, { name: 'b', data: {} }]);
  });

  after(async () => {
    await worker?.close();
    await trainEvents?.close();
    await Promise.allSettled([train?.close(), embed?.close()]);
    await t?.close();
    await redis?.stop();
  });

  it('reports every queue with its counts by state and the connected worker', async () => {
    const res = await t.http.get('/api/v1/system/queues').set(auth(reader)).expect(200);
    const body = res.body as QueuesHealthDto;
    assert.equal(body.redis, 'ok');
    assert.deepEqual(body.queues.map((q) => q.kind), [...JOB_KINDS]);
    const trainHealth = body.queues.find((q) => q.kind === 'train')!;
    const embedHealth = body.queues.find((q) => q.kind === 'embed')!;
    assert.equal(trainHealth.queue, QUEUE_NAMES.train);
    assert.deepEqual(trainHealth.counts, { waiting: 0, prioritized: 0, delayed: 1, active: 0, 'waiting-children': 0, paused: 0, completed: 1, failed: 0 });
    assert.equal(embedHealth.counts.waiting, 2);
    assert.equal(embedHealth.counts.delayed, 0);
    assert.equal(trainHealth.workers.length, 1);
    const [w] = trainHealth.workers;
    assert.equal(w.name, WORKER_NAME);
    assert.match(w.addr, /^127\.0\.0\.1:\d+$/);
    assert.ok(Number.isInteger(w.ageSeconds) && w.ageSeconds >= 0);
    assert.ok(Number.isInteger(w.idleSeconds) && w.idleSeconds >= 0);
    assert.deepEqual(embedHealth.workers, []);
  });

  it('reports a closed worker as gone', async () => {
    await worker.close();
    const res = await t.http.get('/api/v1/system/queues').set(auth(reader)).expect(200);
    const trainHealth = (res.body as QueuesHealthDto).queues.find((q) => q.kind === 'train')!;
    assert.deepEqual(trainHealth.workers, []);
  });
});

describe('GET /api/v1/system/queues without REDIS_URL', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t?.close();
  });

  it("answers 200 with redis 'unconfigured' and no queues", async () => {
    const res = await t.http.get('/api/v1/system/queues').set(auth(await t.keyFor('reader'))).expect(200);
    assert.deepEqual(res.body, { redis: 'unconfigured', queues: [] });
  });
});
