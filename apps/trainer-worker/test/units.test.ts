import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LINEAR_MODULES } from '@palette/peft-core';
import { JOB_KINDS, LORA_TARGET_MODULES, type JobProgress } from '@palette/job-contracts';
import { parseWorkerConfig } from '../src/config';
import { WorkerError } from '../src/errors';
import { GlobalSlots } from '../src/global-slots';
import { ProgressReporter } from '../src/progress-reporter';
import { HttpResultSink } from '../src/result-sink';

describe('worker units', () => {
  it('the contracts list the same LoRA targets as peft-core', () => {
    assert.deepEqual([...LORA_TARGET_MODULES], [...LINEAR_MODULES]);
  });

  it('config: defaults, and one error naming every bad variable', () => {
    const c = parseWorkerConfig({ DATA_DIR: '/tmp/x' });
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.deepEqual(c.queues, [...JOB_KINDS], 'every kind by default');
    assert.deepEqual(c.blobStore, { driver: 'dir', root: '/tmp/x/blobs' });
    assert.equal(c.registry, undefined);
    assert.equal(c.maxConcurrentJobs, 1);
    assert.throws(
      () => parseWorkerConfig({ REDIS_URL: 'http://x', WORKER_QUEUES: 'train,no-such-kind', WORKER_CONCURRENCY_TRAIN: 'two', REGISTRY_URL: 'http://r', BLOB_STORE: 'ftp' }),
      (e: unknown) =>
        e instanceof WorkerError &&
        e.code === 'CONFIG_INVALID' &&
        ['REDIS_URL', 'WORKER_QUEUES', 'WORKER_CONCURRENCY_TRAIN', 'SERVICE_KEY', 'BLOB_STORE'].every((v) => e.message.includes(v)),
    );
  });

  it('global slots cap jobs across queues, serve waiters in order, and report full/free', async () => {
    const events: string[] = [];
    const slots = new GlobalSlots(2, { onFull: () => events.push('full'), onFree: () => events.push('free') });
    const a = await slots.acquire();
    const b = await slots.acquire();
    const order: string[] = [];
    const c = slots.acquire().then((r) => (order.push('c'), r));
    const d = slots.acquire().then((r) => (order.push('d'), r));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], 'no third job while two run');
    a();
    a(); // a second release is ignored
    const rc = await c;
    assert.deepEqual(order, ['c']);
    assert.equal(slots.inUse, 2);
    b();
    (await d)();
    rc();
    assert.equal(slots.inUse, 0);
    assert.equal(events[0], 'full');
    assert.equal(events.at(-1), 'free');
  });

  it('progress is throttled, but phase changes and checkpoints go out at once, in order', async () => {
    let clock = 0;
    const sent: JobProgress[] = [];
    const r = new ProgressReporter(async (p) => void sent.push(p), 1000, undefined, undefined, () => clock);
    r.update({ phase: 'training', step: 1, totalSteps: 10, loss: 2 });
    for (let s = 2; s <= 5; s++) {
      clock += 100;
      r.update({ phase: 'training', step: s, totalSteps: 10, loss: 2 });
    }
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(sent.map((p) => p.step), [1], 'within the interval: held back');
    clock += 1000;
    r.update({ phase: 'training', step: 6, totalSteps: 10, loss: 1.5 });
    await r.recordCheckpoint({ step: 6, manifest: 'a'.repeat(64) }, { phase: 'training', step: 6, totalSteps: 10, loss: 1.5 });
    r.update({ phase: 'training', step: 7, totalSteps: 10, loss: 1.4 });
    await r.flush();
    assert.deepEqual(sent.map((p) => p.step), [1, 6, 6, 7]);
    assert.equal(sent[0]!.checkpoint, undefined);
    assert.deepEqual(sent.at(-1)!.checkpoint, { step: 6, manifest: 'a'.repeat(64) }, 'later updates keep the checkpoint');
    assert.equal(sent[0]!.learningRate, null);
  });

  it('the HTTP result sink retries transient failures and fails on a rejection', async () => {
    const statuses = [503, 201];
    const calls: RequestInit[] = [];
    const sink = new HttpResultSink({ url: 'http://registry', serviceKey: 'k' }, {
      retryDelayMs: 1,
      fetch: async (_url, init) => {
        calls.push(init!);
        return new Response('{}', { status: statuses.shift() ?? 500 });
      },
    });
    const submission = { jobId: 'j1', kind: 'embed' as const, result: { kind: 'embed' as const, adapterVersionId: 'v1', space: 'autolora-v1-0123456789ab', dim: 1, weight: [1], text: null } };
    await sink.submit(submission);
    assert.equal(calls.length, 2);
    assert.equal((calls[0]!.headers as Record<string, string>)['Idempotency-Key'], 'j1');
    const rejecting = new HttpResultSink({ url: 'http://registry', serviceKey: 'k' }, { retryDelayMs: 1, fetch: async () => new Response('bad kind', { status: 422 }) });
    await assert.rejects(rejecting.submit(submission), (e: unknown) => e instanceof WorkerError && e.code === 'RESULT_SINK_FAILED' && /HTTP 422: bad kind/.test(e.message));
  });
});
