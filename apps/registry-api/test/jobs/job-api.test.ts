/**
 * The job API against a real Redis but no workers: every kind of bad input is rejected with a
 * 4xx at submit time (and leaves no job behind), datasets upload/list/get/download, idempotent
 * submission, cancel of a waiting job and retry, the internal result route's guards, and the
 * 503 of a registry without REDIS_URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from 'bullmq';
import { QUEUE_NAMES } from '@palette/job-contracts';
import { createTestApp, type TestApp } from '../../src/testing';
import { DatabaseService } from '../../src/database';
import { redisConnectionOptions } from '@palette/job-contracts';
import { startRedisServer, type RedisServer } from '../../../../tools/testing/redis-server';
import { buildJobFixture, type JobFixture } from './job-fixtures';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
/** Small enough that the test can exceed it cheaply. */
const MAX_DATASET_BYTES = 64 * 1024;

let redis: RedisServer;
let t: TestApp;
let fx: JobFixture;
let writer: string;
let queue: Queue;
let datasetId: string;

function trainSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'train',
    baseModel: 'tiny-base',
    dataset: { ref: datasetId },
    adapter: { name: 'reverse-lora', tags: ['world'] },
    hyperparameters: { steps: 5, batchSize: 4, lora: { r: 4, alpha: 8 } },
    ...overrides,
  };
}

async function jobCount(): Promise<number> {
  return t.app.get(DatabaseService).prisma.job.count();
}

describe('job API: submit-time validation, datasets, cancel and retry (real Redis, no workers)', () => {
  before(async () => {
    [redis, fx] = await Promise.all([startRedisServer(), buildJobFixture()]);
    t = await createTestApp({ env: { REDIS_URL: redis.url, MAX_DATASET_BYTES: String(MAX_DATASET_BYTES) } });
    writer = await t.keyFor('writer');
    let upload = t.http.post('/api/v1/base-models').set(auth(await t.keyFor('admin'))).field('name', 'tiny-base');
    for (const [name, bytes] of fx.modelFiles) upload = upload.attach(name, bytes, name);
    await upload.expect(201);
    const ds = await t.http.post('/api/v1/datasets').set(auth(writer)).field('name', 'reverse-word').field('evalFraction', '0.2').attach('file', Buffer.from(fx.datasetJsonl), 'reverse.jsonl').expect(201);
    datasetId = ds.body.dataset.id;
    queue = new Queue(QUEUE_NAMES.train, { connection: redisConnectionOptions(redis.url) });
  });

  after(async () => {
    await queue?.close();
    await t?.close();
    await redis?.stop();
  });

  it('stores a dataset content-addressed with format and split counts; the same bytes return it', async () => {
    const again = await t.http.post('/api/v1/datasets').set(auth(writer)).attach('file', Buffer.from(fx.datasetJsonl), 'again.jsonl').expect(200);
    assert.equal(again.body.created, false);
    assert.equal(again.body.dataset.id, datasetId);
    const got = await t.http.get(`/api/v1/datasets/${again.body.dataset.sha256}`).set(auth(writer)).expect(200);
    assert.equal(got.body.format, 'prompt-completion');
    assert.equal(got.body.rows, fx.examples);
    assert.equal(got.body.trainRows + got.body.evalRows, fx.examples);
    assert.ok(got.body.evalRows > 0 && got.body.trainRows > got.body.evalRows, JSON.stringify(got.body));
    const list = await t.http.get('/api/v1/datasets').set(auth(writer)).expect(200);
    assert.deepEqual(list.body.map((d: { id: string }) => d.id), [datasetId]);
    const download = await t.http.get(`/api/v1/datasets/${datasetId}/download`).set(auth(writer)).buffer(true).parse((res, cb) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => cb(null, Buffer.concat(chunks)));
    }).expect(200);
    assert.equal((download.body as Buffer).toString('utf8'), fx.datasetJsonl);
  });

  it('rejects a malformed JSONL upload naming the line, storing nothing', async () => {
    const lines = fx.datasetJsonl.split('\n');
    lines[2] = '{"prompt": "unterminated';
    const res = await t.http.post('/api/v1/datasets').set(auth(writer)).attach('file', Buffer.from(lines.join('\n')), 'bad.jsonl').expect(400);
    assert.equal(res.body.error.code, 'VALIDATION_FAILED');
    assert.match(res.body.error.message, /line 3: invalid JSON/);
    assert.equal(res.body.error.details.line, 3);
    assert.equal(await t.app.get(DatabaseService).prisma.dataset.count(), 1);
  });

  it('answers bad submissions with a 4xx naming the problem and enqueues nothing', async () => {
    const before = await jobCount();
    const hp = await t.http.post('/api/v1/jobs').set(auth(writer)).send(trainSpec({ hyperparameters: { steps: 0, lora: { r: 0, dropout: 0.1 } } })).expect(400);
    assert.match(hp.body.error.message, /hyperparameters\.steps: must be ≥ 1, got 0/);
    assert.match(hp.body.error.message, /hyperparameters\.lora\.r: must be ≥ 1, got 0/);
    assert.match(hp.body.error.message, /hyperparameters\.lora\.dropout: unknown field/);
    assert.equal(hp.body.error.details.issues.length, 3);

    const base = await t.http.post('/api/v1/jobs').set(auth(writer)).send(trainSpec({ baseModel: 'no-such-base' })).expect(404);
    assert.match(base.body.error.message, /base model "no-such-base" not found/);

    const kind = await t.http.post('/api/v1/jobs').set(auth(writer)).send(trainSpec({ kind: 'bogus' })).expect(400);
    assert.match(kind.body.error.message, /kind: expected one of train, pretrain, evaluate/);
    const noAdapter = await t.http.post('/api/v1/jobs').set(auth(writer)).send(trainSpec({ adapter: undefined })).expect(400);
    assert.match(noAdapter.body.error.message, /adapter: required/);
    const embed = await t.http.post('/api/v1/jobs').set(auth(writer)).send({ kind: 'embed' }).expect(400);
    assert.match(embed.body.error.message, /kind: expected one of .*got "embed"/);

    const missing = await t.http.post('/api/v1/jobs').set(auth(writer)).send(trainSpec({ dataset: { ref: 'no-such-dataset' } })).expect(404);
    assert.match(missing.body.error.message, /dataset "no-such-dataset" not found/);

    // Malformed JSONL uploaded with the submission: the line is named.
    const bad = fx.datasetJsonl.split('\n');
    bad[4] = '{"prompt":"x"}';
    const jsonl = await t.http.post('/api/v1/jobs').set(auth(writer)).field('spec', JSON.stringify(trainSpec({ dataset: { name: 'inline' } }))).attach('dataset', Buffer.from(bad.join('\n')), 'inline.jsonl').expect(400);
    assert.match(jsonl.body.error.message, /line 5: missing "completion"/);

    // Over MAX_DATASET_BYTES: cut off while streaming.
    const big = Buffer.from(`${JSON.stringify({ text: 'x'.repeat(1000) })}\n`.repeat(Math.ceil((MAX_DATASET_BYTES * 1.5) / 1012)));
    const tooBig = await t.http.post('/api/v1/jobs').set(auth(writer)).field('spec', JSON.stringify(trainSpec({ dataset: {} }))).attach('dataset', big, 'big.jsonl').expect(413);
    assert.equal(tooBig.body.error.code, 'PAYLOAD_TOO_LARGE');
    await t.http.post('/api/v1/datasets').set(auth(writer)).attach('file', big, 'big.jsonl').expect(413);

    // One example longer than the base's 64-token context.
    const long = `${fx.datasetJsonl}${JSON.stringify({ prompt: 'Q: % '.repeat(40), completion: ' too long' })}\n`;
    const ctx = await t.http.post('/api/v1/jobs').set(auth(writer)).field('spec', JSON.stringify(trainSpec({ dataset: { name: 'long' } }))).attach('dataset', Buffer.from(long), 'long.jsonl').expect(400);
    assert.match(ctx.body.error.message, new RegExp(`dataset line ${fx.examples + 1}: the example is \\d+ tokens, over the context of base model "tiny-base" of 64 tokens`));
    // hyperparameters.maxSeqLen lowers the limit.
    const seq = await t.http.post('/api/v1/jobs').set(auth(writer)).send(trainSpec({ hyperparameters: { maxSeqLen: 4 } })).expect(400);
    assert.match(seq.body.error.message, /dataset line 1: .* over the hyperparameters\.maxSeqLen of 4 tokens/);

    assert.equal(await jobCount(), before);
    assert.equal(await queue.count(), 0);
  });

  it('enqueues a valid submission once per idempotency key, with every default filled in', async () => {
    const first = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'job-a').send(trainSpec()).expect(201);
    assert.equal(first.body.created, true);
    assert.equal(first.body.job.id, 'job-a');
    assert.equal(first.body.job.status, 'queued');
    assert.equal(first.body.job.payload.hyperparameters.lr, 1e-3, 'defaults are stored explicitly');
    assert.equal(first.body.job.payload.dataset.evalFraction, 0.2, "the dataset's evalFraction");
    assert.deepEqual(Object.keys(first.body.job.payload.baseModel.files).sort(), [...fx.modelFiles.keys()].sort());
    const again = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'job-a').send(trainSpec()).expect(200);
    assert.equal(again.body.created, false);
    const bull = await queue.getJob('job-a');
    assert.deepEqual(bull?.data, first.body.job.payload);
    assert.equal(await queue.count(), 1);
    const listed = await t.http.get('/api/v1/jobs?status=queued&kind=train&adapter=reverse-lora').set(auth(writer)).expect(200);
    assert.deepEqual(listed.body.items.map((j: { id: string }) => j.id), ['job-a']);
    const none = await t.http.get('/api/v1/jobs?status=running').set(auth(writer)).expect(200);
    assert.equal(none.body.items.length, 0);
  });

  it('cancels a waiting job at once, retries it under the same id, and refuses to cancel twice', async () => {
    await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'job-b').send(trainSpec()).expect(201);
    const cancelled = await t.http.post('/api/v1/jobs/job-b/cancel').set(auth(writer)).send({ reason: 'changed my mind' }).expect(200);
    assert.equal(cancelled.body.status, 'cancelled');
    assert.equal(cancelled.body.error, 'cancelled: changed my mind');
    assert.equal(await queue.getJob('job-b'), undefined, 'removed from the queue');
    await t.http.post('/api/v1/jobs/job-b/cancel').set(auth(writer)).expect(409);
    const retried = await t.http.post('/api/v1/jobs/job-b/retry').set(auth(writer)).expect(200);
    assert.equal(retried.body.status, 'queued');
    assert.equal(retried.body.attempts, 2);
    assert.equal(await (await queue.getJob('job-b'))?.getState(), 'waiting');
    await t.http.post('/api/v1/jobs/job-b/retry').set(auth(writer)).expect(409);
  });

  it('the internal result route needs the service role and a matching job id', async () => {
    const body = { jobId: 'job-a', kind: 'train', result: { kind: 'train' } };
    await t.http.post('/api/v1/internal/jobs/job-a/result').set(auth(writer)).send(body).expect(403);
    const service = await t.keyFor('service');
    const wrongKey = await t.http.post('/api/v1/internal/jobs/job-a/result').set(auth(service)).set('Idempotency-Key', 'job-z').send(body).expect(400);
    assert.match(wrongKey.body.error.message, /Idempotency-Key header "job-z" differs from the job id job-a/);
    const incomplete = await t.http.post('/api/v1/internal/jobs/job-a/result').set(auth(service)).send(body).expect(400);
    assert.match(incomplete.body.error.message, /result\.adapter\.files\["adapter_config\.json"\]/);
    await t.http.post('/api/v1/internal/jobs/nope/result').set(auth(service)).send({ jobId: 'nope', kind: 'embed', result: { kind: 'embed', adapterVersionId: 'v1', space: 'autolora-v1-000000000000', dim: 256, weight: [1, ...new Array<number>(255).fill(0)], text: null } }).expect(404);
  });

  it('GraphQL lists jobs and datasets through the same services', async () => {
    const res = await t.http.post('/graphql').set(auth(writer)).send({ query: '{ jobs(filter: { kind: "train" }) { items { id status adapter } } datasets { id format rows } }' }).expect(200);
    assert.equal(res.body.errors, undefined, JSON.stringify(res.body.errors));
    assert.deepEqual(res.body.data.jobs.items.map((j: { id: string }) => j.id).sort(), ['job-a', 'job-b']);
    assert.equal(res.body.data.datasets[0].format, 'prompt-completion');
  });
});

describe('job API without REDIS_URL', () => {
  it('answers 503 with a clear message while the rest of the registry works', async () => {
    const app = await createTestApp();
    try {
      const key = await app.keyFor('writer');
      const res = await app.http.post('/api/v1/jobs').set(auth(key)).send({ kind: 'train' }).expect(503);
      assert.equal(res.body.error.code, 'SERVICE_UNAVAILABLE');
      assert.match(res.body.error.message, /REDIS_URL is not configured/);
      await app.http.get('/api/v1/base-models').set(auth(key)).expect(200);
      await app.http.get('/api/v1/datasets').set(auth(key)).expect(200);
    } finally {
      await app.close();
    }
  });
});
