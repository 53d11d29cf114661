/**
 * Is a worker as fast as the engine? Trains the same LoRA (same model, dataset, batch, steps,
 * threads) twice: with peft-core's Trainer called directly, and as a `train` job through BullMQ
 * and a worker (the worker's reported tokens/s, from its progress). Prints both medians and the
 * ratio, and exits 1 when the worker is more than 10% slower.
 *
 *   node tools/run-ts.js apps/trainer-worker/bench/worker-throughput.bench.ts
 *   BENCH_HIDDEN=128 BENCH_LAYERS=4 BENCH_STEPS=60 BENCH_BATCH=8 (defaults)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Trainer, generateSplit, getWorldTask, randomCheckpoint, randomModelConfig, saveCheckpoint, taskDatasetJsonl, trainByteLevelBpe } from '@palette/peft-core';
import { DirBlobStore } from '@palette/object-store';
import { QUEUE_NAMES, parseJobPayload, readJobProgress, type ModelFiles } from '@palette/job-contracts';
import { uploadFiles } from '../src/blob-files';
import { parseWorkerConfig } from '../src/config';
import { loadBaseModel, loadTrainingData } from '../src/job-inputs';
import { redisConnectionOptions } from '@palette/job-contracts';
import { startTrainerWorker } from '../src/worker-app';
import { startRedisServer } from '../../../tools/testing/redis-server';

const env = (name: string, fallback: number): number => (process.env[name] ? Number(process.env[name]) : fallback);
const HIDDEN = env('BENCH_HIDDEN', 128);
const LAYERS = env('BENCH_LAYERS', 4);
const STEPS = env('BENCH_STEPS', 60);
const BATCH = env('BENCH_BATCH', 8);
const THREADS = env('BENCH_THREADS', 1);
/** Steps left out of the medians (session creation, first-batch effects). */
const WARMUP = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'palette-throughput-'));
  const redis = await startRedisServer();
  try {
    const blobDir = path.join(root, 'blobs');
    const store = new DirBlobStore({ root: blobDir });
    const task = getWorldTask('reverse-word');
    const jsonl = taskDatasetJsonl(task, generateSplit(task, { seed: 7, train: 256, eval: 8 }).train);
    const tokenizerJson = trainByteLevelBpe(jsonl, 259 + 40);
    const vocabSize = Math.max(...Object.values(tokenizerJson.model.vocab), ...tokenizerJson.added_tokens.map((t) => t.id)) + 1;
    const config = randomModelConfig({ vocabSize, hiddenSize: HIDDEN, intermediateSize: HIDDEN * 3, numLayers: LAYERS, numHeads: 4, numKvHeads: 2, maxPositionEmbeddings: 128 });
    const modelDir = path.join(root, 'model');
    await saveCheckpoint(modelDir, config, randomCheckpoint(config, 11), { dtype: 'F32' });
    await writeFile(path.join(modelDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    const model = Object.fromEntries(Object.entries(await uploadFiles(store, modelDir)).map(([n, f]) => [n, f.sha256])) as ModelFiles;
    await writeFile(path.join(root, 'data.jsonl'), jsonl);
    const { sha256: datasetSha } = await store.putFile(path.join(root, 'data.jsonl'));
    const payload = parseJobPayload('train', {
      baseModel: { name: 'bench-base', files: model },
      dataset: { sha256: datasetSha, evalFraction: 0 },
      hyperparameters: { steps: STEPS, batchSize: BATCH, warmupSteps: 0, lora: { r: 8, alpha: 16, targetModules: 'all-linear' } },
      checkpointing: { everySteps: STEPS },
    });
    const h = payload.hyperparameters;

    // 1. The engine alone, with the inputs the worker would build.
    const base = await loadBaseModel(store, model, path.join(root, 'direct'));
    const data = await loadTrainingData(store, datasetSha, 0, base.tokenizer);
    const trainer = await Trainer.create({
      config: base.config,
      weights: base.weights,
      tokenizer: base.tokenizer,
      train: data.train,
      eval: data.eval,
      options: { mode: 'lora', steps: h.steps, batchSize: h.batchSize, lr: h.lr, warmupSteps: h.warmupSteps, seed: h.seed, lora: { ...h.lora }, intraOpThreads: THREADS },
    });
    const direct: number[] = [];
    await trainer.train({ onProgress: (e) => void (e.step > WARMUP && direct.push(e.tokensPerSecond)) });
    await trainer.dispose();

    // 2. The same run as a job through Redis and a worker (every progress update reported).
    const workerConfig = parseWorkerConfig({ REDIS_URL: redis.url, DATA_DIR: root, BLOB_DIR: blobDir, WORKER_QUEUES: 'train', WORKER_PROGRESS_INTERVAL_MS: '0', WORKER_INTRA_OP_THREADS: String(THREADS) });
    const worker = await startTrainerWorker(workerConfig, { store, echo: () => undefined });
    const connection = redisConnectionOptions(redis.url);
    const queue = new Queue(QUEUE_NAMES.train, { connection });
    const events = new QueueEvents(QUEUE_NAMES.train, { connection });
    const reported: number[] = [];
    events.on('progress', ({ data }) => {
      const p = readJobProgress(data);
      if (p?.phase === 'training' && p.step > WARMUP && p.tokensPerSecond !== null) reported.push(p.tokensPerSecond);
    });
    await events.waitUntilReady();
    const job = await queue.add('train', payload, { jobId: 'throughput', attempts: 1 });
    await job.waitUntilFinished(events, 600_000);
    await worker.shutdown();
    await events.close();
    await queue.close();

    const d = median(direct);
    const w = median(reported);
    const ratio = w / d;
    process.stdout.write(
      `model hidden ${HIDDEN}, ${LAYERS} layers, LoRA r=8 all-linear, batch ${BATCH}, ${STEPS} steps, ${THREADS} thread(s)\n` +
        `engine (Trainer direct): median ${d.toFixed(0)} tokens/s over ${direct.length} steps\n` +
        `worker (reported):       median ${w.toFixed(0)} tokens/s over ${reported.length} updates\n` +
        `worker / engine: ${(ratio * 100).toFixed(1)}%\n`,
    );
    if (!(ratio >= 0.9)) {
      process.stdout.write('FAIL: the worker is more than 10% slower than the engine\n');
      process.exitCode = 1;
    }
  } finally {
    await redis.stop();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
