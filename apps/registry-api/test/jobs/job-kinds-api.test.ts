/**
 * The per-kind job API against a real Redis but no workers: pretrain and evaluate submissions are
 * validated at submit time (every 4xx names its field and leaves no job), and result registration
 * is one transaction: a crash inside it leaves nothing, the retry registers exactly one version,
 * a repeat answers 200 and registers nothing new.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import type { BlobStore } from '@palette/object-store';
import { createTestApp, type TestApp } from '../../src/testing';
import { DatabaseService } from '../../src/database';
import { BLOB_STORE } from '../../src/storage/blob-store.provider';
import { JobResultsService } from '../../src/jobs/job-results.service';
import { startRedisServer, type RedisServer } from '../../../../tools/testing/redis-server';
import { buildAdapter } from '../fixtures/peft-fixtures';
import { buildJobFixture, type JobFixture } from './job-fixtures';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const MAX_DATASET_BYTES = 64 * 1024;

let redis: RedisServer;
let t: TestApp;
let fx: JobFixture;
let writer: string;
let service: string;
let datasetId: string;
let corpusJsonl: string;

const jobCount = (): Promise<number> => t.app.get(DatabaseService).prisma.job.count();

function pretrainSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: 'pretrain', baseModel: 'tiny-base', corpus: { ref: datasetId }, output: { name: 'tiny-pretrained' }, hyperparameters: { steps: 3, batchSize: 2 }, ...overrides };
}

function evaluateSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { kind: 'evaluate', baseModel: 'tiny-base', task: { worldTask: 'reverse-word', examples: 4, splitSeed: 9 }, ...overrides };
}

async function uploadBase(name: string, files: Map<string, Buffer>): Promise<void> {
  let upload = t.http.post('/api/v1/base-models').set(auth(t.adminKey)).field('name', name);
  for (const [file, bytes] of files) upload = upload.attach(file, bytes, file);
  await upload.expect(201);
}

describe('job kinds: pretrain and evaluate submissions, atomic result registration (real Redis, no workers)', () => {
  before(async () => {
    [redis, fx] = await Promise.all([startRedisServer(), buildJobFixture(24)]);
    t = await createTestApp({ env: { REDIS_URL: redis.url, MAX_DATASET_BYTES: String(MAX_DATASET_BYTES) } });
    writer = await t.keyFor('writer');
    service = await t.keyFor('service');
    await uploadBase('tiny-base', fx.modelFiles);
    const ds = await t.http.post('/api/v1/datasets').set(auth(writer)).field('name', 'reverse-word').attach('file', Buffer.from(fx.datasetJsonl), 'reverse.jsonl').expect(201);
    datasetId = ds.body.dataset.id;
    corpusJsonl = fx.datasetJsonl.split('\n').filter((l) => l !== '').map((l) => { const r = JSON.parse(l) as { prompt: string; completion: string }; return JSON.stringify({ text: r.prompt + r.completion }); }).join('\n') + '\n';
  });

  after(async () => {
    await t?.close();
    await redis?.stop();
  });

  it('pretrain: every bad submission is a 4xx naming the problem, and no job is left behind', async () => {
    const before = await jobCount();
    const post = (spec: Record<string, unknown>) => t.http.post('/api/v1/jobs').set(auth(writer)).send(spec);

    const taken = await post(pretrainSpec({ output: { name: 'tiny-base' } })).expect(409);
    assert.match(taken.body.error.message, /output\.name: base model "tiny-base" already exists; choose another name/);
    const base = await post(pretrainSpec({ baseModel: 'no-such-base' })).expect(404);
    assert.match(base.body.error.message, /base model "no-such-base" not found/);
    const hp = await post(pretrainSpec({ hyperparameters: { steps: 0, lr: -1, lora: {} } })).expect(400);
    assert.match(hp.body.error.message, /hyperparameters\.steps: must be ≥ 1, got 0/);
    assert.match(hp.body.error.message, /hyperparameters\.lr: must be > 0/);
    assert.match(hp.body.error.message, /hyperparameters\.lora: unknown field/);
    const packing = await post(pretrainSpec({ hyperparameters: { packing: true } })).expect(400);
    assert.match(packing.body.error.message, /hyperparameters\.packing: .* set maxSeqLen/);
    const shape = await post({ kind: 'pretrain', baseModel: 'tiny-base', corpus: { ref: datasetId }, output: { description: 7 }, adapter: { name: 'x' } }).expect(400);
    assert.match(shape.body.error.message, /output\.name: expected a base model name/);
    assert.match(shape.body.error.message, /output\.description: expected a string/);
    assert.match(shape.body.error.message, /adapter: unknown field/);
    const corpus = await post(pretrainSpec({ corpus: { ref: 'no-such-corpus' } })).expect(404);
    assert.match(corpus.body.error.message, /dataset "no-such-corpus" not found/);

    // Corpus in the request (file part `corpus`): malformed JSONL names its line; over the limit is a 413.
    const bad = corpusJsonl.split('\n');
    bad[3] = '{"text": 5}';
    const malformed = await t.http.post('/api/v1/jobs').set(auth(writer)).field('spec', JSON.stringify(pretrainSpec({ corpus: {} }))).attach('corpus', Buffer.from(bad.join('\n')), 'c.jsonl').expect(400);
    assert.match(malformed.body.error.message, /line 4/);
    const big = Buffer.from(`${JSON.stringify({ text: 'x'.repeat(1000) })}\n`.repeat(Math.ceil((MAX_DATASET_BYTES * 1.5) / 1012)));
    const tooBig = await t.http.post('/api/v1/jobs').set(auth(writer)).field('spec', JSON.stringify(pretrainSpec({ corpus: {} }))).attach('corpus', big, 'big.jsonl').expect(413);
    assert.equal(tooBig.body.error.code, 'PAYLOAD_TOO_LARGE');
    const wrongPart = await t.http.post('/api/v1/jobs').set(auth(writer)).field('spec', JSON.stringify(pretrainSpec({ corpus: {} }))).attach('dataset', Buffer.from(corpusJsonl), 'c.jsonl').expect(400);
    assert.match(wrongPart.body.error.message, /dataset: a pretrain job takes its JSONL as file part `corpus`/);
    // A document longer than the 64-token context (without packing).
    const long = `${corpusJsonl}${JSON.stringify({ text: 'Q: % '.repeat(40) })}\n`;
    const ctx = await t.http.post('/api/v1/jobs').set(auth(writer)).field('spec', JSON.stringify(pretrainSpec({ corpus: {} }))).attach('corpus', Buffer.from(long), 'long.jsonl').expect(400);
    assert.match(ctx.body.error.message, /dataset line \d+: the example is \d+ tokens, over the context of base model "tiny-base" of 64 tokens/);

    assert.equal(await jobCount(), before);
  });

  it('pretrain: a valid submission is enqueued with its registration, and a second one for the same output name is a 409', async () => {
    const res = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'pre-1').field('spec', JSON.stringify(pretrainSpec({ corpus: { name: 'corpus' } }))).attach('corpus', Buffer.from(corpusJsonl), 'corpus.jsonl').expect(201);
    assert.equal(res.body.job.kind, 'pretrain');
    assert.equal(res.body.job.registration.baseModel, 'tiny-pretrained');
    assert.equal(res.body.job.registration.initialBase, 'tiny-base');
    assert.match(res.body.job.payload.corpus.sha256, /^[0-9a-f]{64}$/);
    assert.equal(res.body.job.payload.hyperparameters.weightDecay, 0.01, 'pretrain defaults stored explicitly');
    const again = await t.http.post('/api/v1/jobs').set(auth(writer)).send(pretrainSpec()).expect(409);
    assert.match(again.body.error.message, /output\.name: job pre-1 \(queued\) will register base model "tiny-pretrained"/);
  });

  it('evaluate: 4xx for an unknown task, adapter or base, a bad task field, or an adapter on another base', async () => {
    const before = await jobCount();
    const post = (spec: Record<string, unknown>) => t.http.post('/api/v1/jobs').set(auth(writer)).send(spec);
    const task = await post(evaluateSpec({ task: { worldTask: 'no-such-task' } })).expect(400);
    assert.match(task.body.error.message, /task\.worldTask: unknown world task "no-such-task" \(known: .*reverse-word/);
    const field = await post(evaluateSpec({ task: { worldTask: 'reverse-word', examples: 0, seed: 1 } })).expect(400);
    assert.match(field.body.error.message, /task\.examples: must be ≥ 1, got 0/);
    assert.match(field.body.error.message, /task\.seed: unknown field/);
    const adapter = await post(evaluateSpec({ adapter: 'no-such-lora@v1' })).expect(404);
    assert.match(adapter.body.error.message, /adapter "no-such-lora" not found/);
    const base = await post(evaluateSpec({ baseModel: 'no-such-base' })).expect(404);
    assert.match(base.body.error.message, /base model "no-such-base" not found/);

    // An adapter of another base model.
    const other = new Map(fx.modelFiles);
    await uploadBase('other-base', other);
    const lora = buildAdapter({ baseModelName: 'other-base' });
    const uploaded = await t.http.post('/api/v1/adapters').set(auth(writer)).field('name', 'other-lora').field('baseModel', 'other-base').attach('adapter_config', lora.config, 'adapter_config.json').attach('adapter_model', lora.weights, 'adapter_model.safetensors');
    assert.equal(uploaded.status, 201, JSON.stringify(uploaded.body));
    const mismatch = await post(evaluateSpec({ adapter: 'other-lora@v1' })).expect(409);
    assert.match(mismatch.body.error.message, /adapter: "other-lora@v1" is built on base model "other-base", not "tiny-base"/);
    const version = await t.http.post('/api/v1/jobs').set(auth(writer)).send(evaluateSpec({ adapter: 'other-lora@v9', baseModel: 'other-base' })).expect(404);
    assert.match(version.body.error.message, /version v9 of adapter "other-lora" not found/);
    assert.equal(await jobCount(), before);

    const ok = await post(evaluateSpec({ adapter: 'other-lora@latest', baseModel: 'other-base' })).expect(201);
    assert.deepEqual(Object.keys(ok.body.job.payload.adapter).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
    assert.equal(ok.body.job.payload.task.seed, 9);
    assert.equal(ok.body.job.registration.adapterVersion, 'other-lora@v1');
  });

  it('a train result is registered in one transaction: a crash inside leaves nothing, the retry registers one version', async () => {
    await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'atomic-1').send({ kind: 'train', baseModel: 'tiny-base', dataset: { ref: datasetId }, adapter: { name: 'atomic-lora' }, hyperparameters: { steps: 2 } }).expect(201);
    const blobs = t.app.get<BlobStore>(BLOB_STORE);
    const lora = buildAdapter({ baseModelName: 'tiny-base', seed: 21 });
    const config = await blobs.put(Readable.from([lora.config]));
    const weights = await blobs.put(Readable.from([lora.weights]));
    const body = {
      jobId: 'atomic-1',
      kind: 'train',
      result: {
        kind: 'train',
        adapter: { files: { 'adapter_config.json': { sha256: config.sha256, size: lora.config.length }, 'adapter_model.safetensors': { sha256: weights.sha256, size: lora.weights.length } } },
        metrics: { steps: 2, finalLoss: 1.5, evalLoss: 1.7, trainExamples: 20, evalExamples: 4, durationSeconds: 1 },
      },
    };
    const results = t.app.get(JobResultsService) as unknown as { finish: (...args: unknown[]) => Promise<void> };
    const finish = results.finish;
    // The process "dies" after the catalog wrote the version's rows, before the job's marker: same transaction.
    results.finish = async () => {
      throw new Error('simulated crash between the version and the job link');
    };
    try {
      await t.http.post('/api/v1/internal/jobs/atomic-1/result').set(auth(service)).send(body).expect(500);
    } finally {
      results.finish = finish;
    }
    const prisma = t.app.get(DatabaseService).prisma;
    assert.equal(await prisma.adapter.count({ where: { name: 'atomic-lora' } }), 0, 'the adapter row was rolled back with the version');
    assert.equal((await prisma.job.findUniqueOrThrow({ where: { id: 'atomic-1' } })).registeredAt, null);

    const first = await t.http.post('/api/v1/internal/jobs/atomic-1/result').set(auth(service)).set('Idempotency-Key', 'atomic-1').send(body).expect(201);
    assert.equal(first.body.adapterVersion, 'atomic-lora@v1');
    assert.equal(first.body.registered.type, 'adapter-version');
    const repeat = await t.http.post('/api/v1/internal/jobs/atomic-1/result').set(auth(service)).send(body).expect(200);
    assert.equal(repeat.body.created, false);
    assert.equal(repeat.body.adapterVersionId, first.body.adapterVersionId);
    assert.equal(await prisma.adapterVersion.count({ where: { adapter: { name: 'atomic-lora' } } }), 1);
    assert.equal(await prisma.auditLog.count({ where: { action: 'job.result.register', entityId: 'atomic-1' } }), 1);
    const version = await t.http.get('/api/v1/adapters/atomic-lora/versions/v1').set(auth(writer)).expect(200);
    assert.equal(version.body.metrics.training.job, 'atomic-1');
    assert.equal(version.body.metrics.evalLoss, 1.7);
    const job = await t.http.get('/api/v1/jobs/atomic-1').set(auth(writer)).expect(200);
    assert.equal(job.body.adapterVersion, 'atomic-lora@v1');
    assert.ok(job.body.registeredAt);
  });

  it('result shapes are checked per kind', async () => {
    const pre = await t.http.post('/api/v1/internal/jobs/pre-1/result').set(auth(service)).send({ jobId: 'pre-1', kind: 'pretrain', result: { kind: 'pretrain', model: { files: { 'config.json': { sha256: 'x', size: 1 } } } } }).expect(400);
    assert.match(pre.body.error.message, /result\.model\.files\["config\.json"\]: expected \{sha256, size\}/);
    assert.match(pre.body.error.message, /result\.model\.files\["tokenizer\.json"\]: is required/);
    assert.match(pre.body.error.message, /result\.metrics: expected an object/);
    const ev = await t.http.post('/api/v1/internal/jobs/pre-1/result').set(auth(service)).send({ jobId: 'pre-1', kind: 'evaluate', result: { kind: 'evaluate', metrics: { task: 'reverse-word', examples: 4, correct: 1, accuracy: 2 } } }).expect(400);
    assert.match(ev.body.error.message, /result\.metrics\.accuracy: expected a number in \[0, 1\]/);
  });
});
