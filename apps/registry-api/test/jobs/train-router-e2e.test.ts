/**
 * train-router through the job API (issue #5), end to end on tiny sizes: the real registry
 * in-process, a real redis-server and a real trainer-worker; the router artifact it registers is
 * read back through GET /api/v1/artifacts/router/:name and loads in peft-core. Plus every
 * submit-time refusal, each a 4xx naming the problem with no Job row written.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createAdapterConfig, createPeftAdapter, decodeRouterArtifact, randomCheckpoint, randomLora, randomModelConfig, saveCheckpoint, Tokenizer, trainByteLevelBpe, writePeftAdapter, type ModelConfig } from '@palette/peft-core';
import type { TrainerWorker } from '@palette/trainer-worker';
import { createTestApp, type TestApp } from '../../src/testing';
import { DatabaseService } from '../../src/database';
import { startRedisServer, type RedisServer } from '../../../../tools/testing/redis-server';
import { startInProcessWorker } from '../helpers/in-process-worker';
import { finishedJob } from '../helpers/job-waits';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const TASKS = ['reverse-word', 'uppercase-word', 'parity'];
let redis: RedisServer;
let t: TestApp;
let worker: TrainerWorker;
let writer: string;
let scratch: string;
let config: ModelConfig;

async function uploadBase(name: string, cfg: ModelConfig, seed: number, tokenizerJson: unknown): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'palette-router-base-'));
  try {
    await saveCheckpoint(dir, cfg, randomCheckpoint(cfg, seed), { dtype: 'F32' });
    let upload = t.http.post('/api/v1/base-models').set(auth(t.adminKey)).field('name', name);
    for (const file of await readdir(dir)) upload = upload.attach(file, await readFile(path.join(dir, file)), file);
    await upload.attach('tokenizer.json', Buffer.from(JSON.stringify(tokenizerJson)), 'tokenizer.json').expect(201);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function uploadAdapter(name: string, base: string, seed: number): Promise<void> {
  const weights = randomLora(config, { r: 2, seed, targetModules: ['q_proj', 'v_proj'] });
  const files = writePeftAdapter(createPeftAdapter(createAdapterConfig({ r: 2, lora_alpha: 2, target_modules: ['q_proj', 'v_proj'], base_model_name_or_path: base }), weights, { base: config }));
  await t.http
    .post('/api/v1/adapters')
    .set(auth(writer))
    .field('name', name)
    .field('baseModel', base)
    .attach('adapter_config', Buffer.from(files.configJson), 'adapter_config.json')
    .attach('adapter_model', Buffer.from(files.safetensors), 'adapter_model.safetensors')
    .expect(201);
}

type SettledJob = { status: string; error: string | null; registered: Record<string, unknown> | null; progress: Record<string, unknown> };

function settled(id: string, timeoutMs: number): Promise<SettledJob> {
  return finishedJob<SettledJob>(t, writer, id, { timeoutMs });
}

function spec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'train-router',
    name: 'tiny-router',
    baseModel: 'tiny-base',
    strategy: 'meteora',
    experts: ['reverse', 'upper@v1', 'parity'],
    data: { source: 'world', worldTasks: TASKS, examplesPerTask: 12, compositeExamples: 4 },
    hyperparameters: { steps: 4, batchSize: 4, lr: 0.05, topK: 2, prefixScope: 'line' },
    ...overrides,
  };
}

describe('train-router jobs (registry + Redis + worker)', () => {
  before(async () => {
    redis = await startRedisServer();
    scratch = await mkdtemp(path.join(tmpdir(), 'palette-router-e2e-'));
    t = await createTestApp({ env: { REDIS_URL: redis.url } });
    await t.app.listen(0, '127.0.0.1');
    const baseUrl = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    writer = await t.keyFor('writer');
    const tokenizerJson = trainByteLevelBpe('Q: % abc\nA: cba\n1. 2. & ABC [ even odd', 270, { minFrequency: 1 });
    const tokenizer = Tokenizer.fromJson(tokenizerJson);
    config = randomModelConfig({ vocabSize: tokenizer.vocabSize, maxPositionEmbeddings: 128, eosTokenId: tokenizer.eosTokenId ?? 0, bosTokenId: tokenizer.bosTokenId ?? 0 });
    await uploadBase('tiny-base', config, 1, tokenizerJson);
    await uploadBase('other-base', config, 2, tokenizerJson);
    await uploadAdapter('reverse', 'tiny-base', 10);
    await uploadAdapter('upper', 'tiny-base', 11);
    await uploadAdapter('parity', 'tiny-base', 12);
    await uploadAdapter('elsewhere', 'other-base', 13);
    const key = await t.http.post('/api/v1/keys').set(auth(t.adminKey)).send({ name: 'trainer-worker', role: 'service' }).expect(201);
    worker = await startInProcessWorker(t, { redisUrl: redis.url, registryUrl: baseUrl, serviceKey: key.body.key, dataDir: scratch, queues: 'train-router', progressIntervalMs: 50 });
  });

  after(async () => {
    await worker?.shutdown();
    await t?.close();
    await redis?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('trains a MeteoRA router and registers it as a router artifact naming its experts', async () => {
    const res = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'router-1').send(spec());
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const job = await settled('router-1', 120_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
    assert.match(String(job.registered?.name), /^router\/tiny-router@v1$/);
    const artifact = await t.http.get('/api/v1/artifacts/router/tiny-router').set(auth(writer)).expect(200);
    assert.equal(artifact.body.baseModel.name, 'tiny-base');
    assert.equal(artifact.body.jobId, 'router-1');
    assert.equal(artifact.body.metadata.strategy, 'meteora');
    const files = new Map<string, Buffer>();
    for (const f of artifact.body.files as { path: string }[]) {
      files.set(f.path, (await t.http.get(`/api/v1/artifacts/id/${artifact.body.id}/files/${f.path}`).set(auth(writer)).buffer(true).parse((r, cb) => { const chunks: Buffer[] = []; r.on('data', (c: Buffer) => chunks.push(c)); r.on('end', () => cb(null, Buffer.concat(chunks))); }).expect(200)).body as Buffer);
    }
    const decoded = decodeRouterArtifact({ manifest: files.get('router.json')!, tensors: files.get('router.safetensors')! });
    assert.deepEqual(decoded.manifest.experts, ['reverse@v1', 'upper@v1', 'parity@v1']);
    assert.equal(decoded.manifest.kind, 'meteora');
    assert.equal(decoded.manifest.metrics.steps, 4);
    // The line-scope prefix gate travels in the artifact: its separators are the base's line-break tokens.
    const h = decoded.manifest.kind === 'meteora' ? decoded.manifest.hyperparameters : undefined;
    assert.equal(h?.prefixTokens, config.vocabSize);
    assert.ok((h?.prefixLineBreaks ?? 0) >= 1, JSON.stringify(h));
  });

  it('refuses bad submissions with a 4xx naming the problem, writing no Job', async () => {
    const count = async (): Promise<number> => t.app.get(DatabaseService).prisma.job.count();
    const before = await count();
    const cases: Array<[string, Record<string, unknown>, number, RegExp]> = [
      ['unknown expert', spec({ experts: ['reverse', 'nope', 'parity'] }), 404, /nope/],
      ['expert of another base', spec({ experts: ['reverse', 'upper', 'elsewhere'] }), 400, /experts\[2\].*other-base/],
      ['one expert', spec({ experts: ['reverse'] }), 400, /experts: expected 2/],
      ['repeated expert', spec({ experts: ['reverse', 'reverse@v1', 'parity'] }), 400, /named twice/],
      ['topK over the experts', spec({ hyperparameters: { topK: 4 } }), 400, /topK: 4 exceeds the 3 experts/],
      ['line scope without the prefix gate', spec({ hyperparameters: { prefixGate: false, prefixScope: 'line' } }), 400, /prefixScope: \\"line\\" is a scope of MeteoRA/],
      ['bad lr', spec({ hyperparameters: { lr: -1 } }), 400, /hyperparameters\.lr/],
      ['unknown strategy', spec({ strategy: 'moe' }), 400, /strategy: expected one of meteora, flylora, xcross/],
      ['unknown world task', spec({ data: { source: 'world', worldTasks: ['reverse-word', 'juggling', 'parity'] } }), 400, /data\.worldTasks\[1\]: unknown world task/],
      ['tasks ≠ experts', spec({ data: { source: 'world', worldTasks: ['reverse-word', 'parity'] } }), 400, /2 tasks for 3 experts/],
      ['composites for X-Cross', spec({ strategy: 'xcross' }), 400, /compositeExamples/],
      ['unknown base', spec({ baseModel: 'no-base' }), 404, /no-base/],
    ];
    for (const [label, body, status, message] of cases) {
      const res = await t.http.post('/api/v1/jobs').set(auth(writer)).send(body);
      assert.equal(res.status, status, `${label}: ${res.status} ${JSON.stringify(res.body)}`);
      assert.match(JSON.stringify(res.body), message, label);
    }
    assert.equal(await count(), before);
  });
});
