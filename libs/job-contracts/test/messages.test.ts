import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cancelKey,
  encodeLogLine,
  jobIdForIdempotencyKey,
  jobResultPath,
  parseCancelRequest,
  parseJobProgress,
  parseLogLine,
  readJobProgress,
  requestJobCancellation,
  JobContractError,
  type CancellationWriter,
  type JobProgress,
} from '../src';

describe('progress, logs, idempotency, cancellation', () => {
  it('progress round-trips through JSON and rejects malformed values with the field named', () => {
    const p: JobProgress = {
      phase: 'training', step: 3, totalSteps: 10, loss: 1.5, learningRate: 1e-3, tokensPerSecond: 900, etaSeconds: 2,
      checkpoint: { step: 2, manifest: 'f'.repeat(64) }, updatedAt: new Date(0).toISOString(),
    };
    assert.deepEqual(parseJobProgress(JSON.parse(JSON.stringify(p))), p);
    assert.equal(readJobProgress(0), undefined, "BullMQ's initial progress is 0");
    assert.throws(() => parseJobProgress({ ...p, phase: 'sleeping', step: -1 }), (e: unknown) => e instanceof JobContractError && /phase/.test(e.message) && /step/.test(e.message));
    assert.deepEqual(parseJobProgress({ ...p, loss: null, learningRate: null }).loss, null);
  });

  it('log lines round-trip; foreign strings become info lines', () => {
    const line = { time: '2024-01-01T00:00:00.000Z', level: 'warn' as const, message: 'slow step', fields: { step: 4 } };
    assert.deepEqual(parseLogLine(encodeLogLine(line)), line);
    assert.deepEqual(parseLogLine('plain text'), { time: '', level: 'info', message: 'plain text' });
    assert.deepEqual(parseLogLine('{"level":"loud","message":"x","time":"t"}').level, 'info');
  });

  it('idempotency keys become job ids unchanged; ids BullMQ cannot take are rejected', () => {
    assert.equal(jobIdForIdempotencyKey('train-acme-42'), 'train-acme-42');
    for (const bad of ['', '123', 'a:b', '-lead', 'x'.repeat(129), 'white space']) {
      assert.throws(() => jobIdForIdempotencyKey(bad), (e: unknown) => e instanceof JobContractError && e.code === 'IDEMPOTENCY_KEY_INVALID', bad);
    }
    assert.equal(jobResultPath('a.b'), '/api/v1/internal/jobs/a.b/result');
  });

  it('a cancellation request is written under the job key with a TTL and read back', async () => {
    const writes: unknown[][] = [];
    const redis: CancellationWriter = { set: async (...args) => void writes.push(args) };
    await requestJobCancellation(redis, 'job-1', 'user asked');
    assert.equal(writes.length, 1);
    const [key, value, options] = writes[0]!;
    assert.equal(key, cancelKey('job-1'));
    assert.ok((options as { EX: number }).EX > 3600);
    assert.equal(parseCancelRequest(value as string).reason, 'user asked');
    assert.equal(parseCancelRequest('1').reason, 'cancelled by request');
  });
});
