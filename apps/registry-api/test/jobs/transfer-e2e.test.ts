/**
 * Trans-LoRA through the job API (issue #7), end to end: the real registry in-process (PGlite +
 * pgvector), a real redis-server and a real trainer-worker (in this process, same code as
 * `apps/trainer-worker/src/main.ts`), on tiny bases of different widths AND tokenizers:
 *   train job (with its companion discriminator) on the 32-wide source base
 *   → `discriminator/<adapter>` artifact linked to the new version
 *   → transfer job to the 48-wide target base: phases and acceptance rate in its progress
 *   → a new adapter on the target base with lineage (transferred_from, dataset = seeds, job,
 *     base_model) and metrics (acceptance rate, counts, final loss);
 * and every submit-time refusal, each a 4xx naming the problem with no Job row written.
 *
 * Task: "a c b ?" → " b" (repeat the last letter), as in peft-core's transfer tests. The target
 * base is pretrained briefly on task-like lines (a base knows its domain's text, which is what lets
 * it write plausible prompts from a few seeds).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Rng, Tokenizer, Trainer, randomCheckpoint, randomModelConfig, saveCheckpoint, trainByteLevelBpe, type ModelConfig, type TokenizerJson } from '@palette/peft-core';
import type { TrainerWorker } from '@palette/trainer-worker';
import { createTestApp, type TestApp } from '../../src/testing';
import { DatabaseService } from '../../src/database';
import { startRedisServer, type RedisServer } from '../../../../tools/testing/redis-server';
import { openSse, type SseEvent } from './sse-client';
import { startInProcessWorker } from '../helpers/in-process-worker';
import { finishedJob } from '../helpers/job-waits';

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const LETTERS = 'abcdef';

function example(rng: Rng): { prompt: string; completion: string } {
  const letters = Array.from({ length: 3 }, () => LETTERS[rng.int(LETTERS.length)]!);
  return { prompt: `${letters.join(' ')} ?`, completion: ` ${letters[2]!}` };
}

function examples(count: number, seed: number): { prompt: string; completion: string }[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => example(rng));
}

function tokenizerJson(merges: number): TokenizerJson {
  const corpus = [...examples(200, 99).map((e) => `${e.prompt}${e.completion}`), 'Is this real? yes no'];
  return trainByteLevelBpe(corpus, 3 + 256 + merges, { minFrequency: 1 });
}

function config(tokenizer: Tokenizer, hidden: number): ModelConfig {
  return randomModelConfig({
    vocabSize: tokenizer.vocabSize,
    hiddenSize: hidden,
    intermediateSize: hidden * 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: hidden / 4,
    maxPositionEmbeddings: 96,
    bosTokenId: tokenizer.bosTokenId ?? 0,
    eosTokenId: tokenizer.eosTokenId ?? 0,
  });
}

/** A base model as the files POST /base-models takes. */
async function modelFiles(cfg: ModelConfig, weights: Parameters<typeof saveCheckpoint>[2], tok: TokenizerJson): Promise<Map<string, Buffer>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'palette-transfer-model-'));
  try {
    await saveCheckpoint(dir, cfg, weights, { dtype: 'F32' });
    const files = new Map<string, Buffer>();
    for (const name of await readdir(dir)) files.set(name, await readFile(path.join(dir, name)));
    files.set('tokenizer.json', Buffer.from(JSON.stringify(tok)));
    return files;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function buildBases(): Promise<{ source: Map<string, Buffer>; target: Map<string, Buffer> }> {
  const srcJson = tokenizerJson(16);
  const tgtJson = tokenizerJson(40);
  const srcTok = Tokenizer.fromJson(srcJson);
  const tgtTok = Tokenizer.fromJson(tgtJson);
  assert.notEqual(srcTok.vocabSize, tgtTok.vocabSize, 'the two bases must have different vocabularies');
  const srcCfg = config(srcTok, 32);
  const tgtCfg = config(tgtTok, 48);
  // Five prompts a line: the layout the few-shot generator continues.
  const lines = Array.from({ length: 120 }, (_, i) => examples(5, 1000 + i).map((e) => e.prompt).join('\n'));
  const pretrainer = await Trainer.create({
    config: tgtCfg,
    weights: randomCheckpoint(tgtCfg, 20),
    tokenizer: tgtTok,
    train: lines.map((text) => ({ text })),
    options: { mode: 'full', steps: 80, batchSize: 16, lr: 3e-3, warmupSteps: 5, minLr: 1e-4, maxGradNorm: 1, seed: 2 },
  });
  try {
    await pretrainer.train();
    return { source: await modelFiles(srcCfg, randomCheckpoint(srcCfg, 10), srcJson), target: await modelFiles(tgtCfg, pretrainer.baseWeights(), tgtJson) };
  } finally {
    await pretrainer.dispose();
  }
}

let redis: RedisServer;
let t: TestApp;
let worker: TrainerWorker;
let writer: string;
let scratch: string;
let datasetRef: string;
const SEEDS = [...new Set(examples(40, 7).map((e) => e.prompt))].slice(0, 5);

type SettledJob = { status: string; error: string | null; adapterVersion: string | null; progress: Record<string, unknown>; result: Record<string, unknown> | null };

function settled(id: string, timeoutMs: number): Promise<SettledJob> {
  return finishedJob<SettledJob>(t, writer, id, { timeoutMs });
}

function transferSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'transfer',
    sourceBase: 'src-base',
    sourceAdapter: 'last-letter@v1',
    targetBase: 'tgt-base',
    seeds: SEEDS,
    adapter: { name: 'last-letter-moved', description: 'repeats the last letter (transferred)', tags: ['transfer'] },
    hyperparameters: {
      candidates: 48,
      promptMaxNewTokens: 12,
      answerMaxNewTokens: 4,
      batchSize: 16,
      minAccepted: 4,
      training: { steps: 30, batchSize: 8, lr: 1e-2, warmupSteps: 0, seed: 5, lora: { r: 4, alpha: 8, targetModules: 'all-linear' } },
    },
    checkpointing: { everySteps: 10 },
    ...overrides,
  };
}

async function jobCount(): Promise<number> {
  return t.app.get(DatabaseService).prisma.job.count();
}

describe('transfer jobs end to end (registry + Redis + worker)', () => {
  before(async () => {
    const [r, bases] = await Promise.all([startRedisServer(), buildBases()]);
    redis = r;
    scratch = await mkdtemp(path.join(tmpdir(), 'palette-transfer-e2e-'));
    t = await createTestApp({ env: { REDIS_URL: redis.url } });
    await t.app.listen(0, '127.0.0.1');
    const baseUrl = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    writer = await t.keyFor('writer');
    for (const [name, files] of [['src-base', bases.source], ['tgt-base', bases.target]] as const) {
      let upload = t.http.post('/api/v1/base-models').set(auth(t.adminKey)).field('name', name);
      for (const [file, bytes] of files) upload = upload.attach(file, bytes, file);
      await upload.expect(201);
    }
    const jsonl = examples(200, 1).map((e) => JSON.stringify(e)).join('\n') + '\n';
    const ds = await t.http.post('/api/v1/datasets').set(auth(writer)).field('name', 'last-letter').field('evalFraction', '0').attach('file', Buffer.from(jsonl), 'last-letter.jsonl').expect(201);
    datasetRef = ds.body.dataset.id;
    const key = await t.http.post('/api/v1/keys').set(auth(t.adminKey)).send({ name: 'trainer-worker', role: 'service' }).expect(201);
    worker = await startInProcessWorker(t, { redisUrl: redis.url, registryUrl: baseUrl, serviceKey: key.body.key, dataDir: scratch, queues: 'train,transfer', progressIntervalMs: 50, cancelPollMs: 100 });
  });

  after(async () => {
    await worker?.shutdown();
    await t?.close();
    await redis?.stop();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('train with a companion discriminator → transfer → a new adapter on the target base with lineage and metrics', async (tc) => {
    const train = await t.http
      .post('/api/v1/jobs')
      .set(auth(writer))
      .set('Idempotency-Key', 'tr-train')
      .send({
        kind: 'train',
        baseModel: 'src-base',
        dataset: { ref: datasetRef },
        adapter: { name: 'last-letter', description: 'repeats the last letter' },
        hyperparameters: { steps: 120, batchSize: 16, lr: 1e-2, warmupSteps: 10, minLr: 1e-4, seed: 1, lora: { r: 8, alpha: 16, targetModules: 'all-linear' } },
        companionDiscriminator: { syntheticPrompts: 48, steps: 40, seed: 4 },
      });
    assert.equal(train.status, 201, JSON.stringify(train.body));
    const trained = await settled('tr-train', 120_000);
    assert.equal(trained.status, 'succeeded', trained.error ?? '');
    assert.equal(trained.adapterVersion, 'last-letter@v1');
    const companion = (trained.result as { companionDiscriminator?: { trained: boolean; durationSeconds?: number; realAccepted?: number; syntheticAccepted?: number } } | null)?.companionDiscriminator;
    assert.equal(companion?.trained, true, JSON.stringify(trained.result));
    tc.diagnostic(`companion discriminator: ${companion?.durationSeconds?.toFixed(1)} s, real accepted ${companion?.realAccepted}, synthetic accepted ${companion?.syntheticAccepted}`);

    const prisma = t.app.get(DatabaseService).prisma;
    const sourceVersion = await prisma.adapterVersion.findFirstOrThrow({ where: { adapter: { name: 'last-letter' }, version: 1 }, select: { id: true } });
    const listed = await t.http.get(`/api/v1/artifacts?kind=discriminator&name=last-letter`).set(auth(writer)).expect(200);
    assert.equal(listed.body.items.length, 1, JSON.stringify(listed.body));
    const disc = listed.body.items[0];
    assert.equal(disc.adapterVersion?.id, sourceVersion.id, 'the discriminator is linked to the adapter version it accompanies');
    assert.equal(disc.jobId, 'tr-train');
    assert.deepEqual(disc.files.map((f: { path: string }) => f.path).sort(), ['adapter_config.json', 'adapter_model.safetensors', 'discriminator.json']);

    const submitted = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'tr-move').send(transferSpec());
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const baseUrl = (await t.app.getUrl()).replace('[::1]', '127.0.0.1');
    const stream = await openSse(`${baseUrl}/api/v1/jobs/tr-move/events`, writer);
    const timer = setTimeout(() => stream.close(), 120_000);
    const events = await stream.done;
    clearTimeout(timer);
    const job = await settled('tr-move', 10_000);
    const tm = (job.result as { metrics?: { durationSeconds?: number; transfer?: { acceptanceRate?: number; candidates?: number } } } | null)?.metrics;
    tc.diagnostic(`transfer job: ${tm?.durationSeconds?.toFixed(1)} s, acceptance ${tm?.transfer?.acceptanceRate} of ${tm?.transfer?.candidates}`);
    assert.equal(job.status, 'succeeded', `${job.error ?? ''} ${JSON.stringify(events.slice(-3))}`);
    assert.equal(job.adapterVersion, 'last-letter-moved@v1');

    // Progress showed each phase in order, with the filter's acceptance rate once it was known.
    const progress = events.filter((e): e is SseEvent & { data: { phase: string; transfer?: { phase: string; acceptanceRate?: number } } } => e.event === 'progress').map((e) => e.data);
    const phases = [...new Set(progress.map((p) => p.phase))];
    const order = ['generating', 'filtering', 'answering', 'training'];
    const seen = order.filter((p) => phases.includes(p));
    assert.deepEqual(seen, order, `phases seen: ${phases.join(', ')}`);
    assert.ok(phases.indexOf('generating') < phases.indexOf('filtering') && phases.indexOf('filtering') < phases.indexOf('answering') && phases.indexOf('answering') < phases.indexOf('training'), phases.join(','));
    const withRate = progress.filter((p) => p.phase === 'training' && typeof p.transfer?.acceptanceRate === 'number');
    assert.ok(withRate.length > 0, 'training progress carries the acceptance rate');

    // The new adapter: on the target base, with lineage and metrics.
    const adapter = await t.http.get('/api/v1/adapters/last-letter-moved').set(auth(writer)).expect(200);
    assert.equal(adapter.body.baseModel?.name ?? adapter.body.baseModel, 'tgt-base', JSON.stringify(adapter.body.baseModel));
    const moved = await prisma.adapterVersion.findFirstOrThrow({ where: { adapter: { name: 'last-letter-moved' }, version: 1 }, select: { id: true, metrics: true } });
    const edges = await prisma.lineageEdge.findMany({ where: { childVersionId: moved.id } });
    const byKind = new Map(edges.map((e) => [e.kind, e]));
    assert.equal(byKind.get('transferred_from')?.parentVersionId, sourceVersion.id);
    assert.equal(byKind.get('job')?.ref, 'tr-move');
    assert.equal(byKind.get('base_model')?.ref, 'tgt-base');
    const seedDataset = await prisma.dataset.findUniqueOrThrow({ where: { sha256: byKind.get('dataset')!.ref! } });
    assert.equal(seedDataset.rows, SEEDS.length, 'the seed set is the lineage dataset');
    const metrics = moved.metrics as { transfer: Record<string, unknown>; training: Record<string, unknown> };
    const tr = metrics.transfer;
    assert.equal(tr.filtered, true);
    assert.equal(tr.seedCount, SEEDS.length);
    assert.equal(tr.sourceAdapter, 'last-letter@v1');
    // The distillation set the metrics name is held by the version, so blob GC keeps it.
    assert.ok(typeof tr.distillationSet === 'string');
    assert.equal(await prisma.blobRef.count({ where: { sha256: tr.distillationSet as string, ownerType: 'adapter_version', ownerId: moved.id } }), 1);
    assert.equal(tr.discriminator, 'discriminator/last-letter@v1');
    assert.ok(typeof tr.candidates === 'number' && tr.candidates > 0, JSON.stringify(tr));
    assert.ok(typeof tr.accepted === 'number' && tr.accepted >= 4 && tr.accepted <= tr.candidates, JSON.stringify(tr));
    assert.ok(Math.abs((tr.acceptanceRate as number) - (tr.accepted as number) / (tr.candidates as number)) < 1e-9);
    assert.equal(metrics.training.steps, 30);
    assert.ok(Number.isFinite(metrics.training.finalLoss as number));
    // The student is an adapter of the TARGET's shapes (48 wide), not the source's (32).
    const version = await t.http.get('/api/v1/adapters/last-letter-moved/versions/v1').set(auth(writer)).expect(200);
    assert.equal(version.body.rank, 4);
  });

  it('refuses at submit, with a 4xx naming the problem and no job written', async () => {
    const before = await jobCount();
    const cases: Array<[string, Record<string, unknown>, number, RegExp]> = [
      ['no seeds', transferSpec({ seeds: [] }), 400, /seeds: no seed examples/],
      ['seeds absent', transferSpec({ seeds: undefined }), 400, /seeds: no seed examples/],
      ['adapter not on the named source base', transferSpec({ sourceBase: 'tgt-base', adapter: { name: 'x-1' } }), 400, /sourceAdapter: adapter "last-letter" is built on base model "src-base", not on sourceBase "tgt-base"/],
      ['unknown target', transferSpec({ targetBase: 'no-such-base', adapter: { name: 'x-2' } }), 404, /base model "no-such-base" not found/],
      ['unknown source adapter', transferSpec({ sourceAdapter: 'no-such-adapter@v1', adapter: { name: 'x-3' } }), 404, /adapter "no-such-adapter" not found/],
      ['output name taken', transferSpec({ adapter: { name: 'last-letter' } }), 409, /adapter\.name: adapter "last-letter" already exists/],
      ['accepted target above the candidate cap', transferSpec({ adapter: { name: 'x-4' }, hyperparameters: { candidates: 48, accepted: 64 } }), 400, /hyperparameters\.accepted: 64 accepted prompts cannot come from at most 48 candidates/],
    ];
    for (const [what, spec, status, message] of cases) {
      const res = await t.http.post('/api/v1/jobs').set(auth(writer)).send(spec);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assert.match(String(res.body.error?.message), message, what);
    }
    // No companion discriminator: delete it, then only filter=false is accepted.
    const listed = await t.http.get('/api/v1/artifacts?kind=discriminator&name=last-letter').set(auth(writer)).expect(200);
    for (const a of listed.body.items as Array<{ id: string }>) await t.http.delete(`/api/v1/artifacts/id/${a.id}`).set(auth(t.adminKey)).expect(200);
    const noDisc = await t.http.post('/api/v1/jobs').set(auth(writer)).send(transferSpec({ adapter: { name: 'x-4' } }));
    assert.equal(noDisc.status, 409, JSON.stringify(noDisc.body));
    assert.match(String(noDisc.body.error?.message), /sourceAdapter: last-letter@v1 has no companion discriminator/);
    assert.equal(await jobCount(), before, 'no Job row for a refused submission');

    const unfiltered = transferSpec({ adapter: { name: 'x-5' } });
    (unfiltered.hyperparameters as Record<string, unknown>).filter = false;
    const ok = await t.http.post('/api/v1/jobs').set(auth(writer)).set('Idempotency-Key', 'tr-unfiltered').send(unfiltered);
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    // Cancel it: the accepted submission is all this case checks (the filtered run above covers the pipeline).
    await t.http.post('/api/v1/jobs/tr-unfiltered/cancel').set(auth(writer)).send({}).expect((r) => assert.ok(r.status < 300, JSON.stringify(r.body)));
    const cancelled = await settled('tr-unfiltered', 30_000);
    assert.equal(cancelled.status, 'cancelled');
  });
});
