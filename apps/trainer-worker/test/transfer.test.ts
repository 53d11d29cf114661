/**
 * The `transfer` processor without a queue (processors are plain functions of a JobContext):
 * between bases of different widths and tokenizers, unfiltered (the filtered path runs end to end
 * in apps/registry-api/test/jobs/transfer-e2e.test.ts).
 * - a run interrupted by shutdown during the student's training stores the distillation set and a
 *   checkpoint in its progress; the next attempt reuses both (no new generation) and finishes;
 * - progress goes generating → filtering → answering → training, with the acceptance rate;
 * - a source adapter trained on another base is refused as INPUT_INVALID (not retried).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Rng, Tokenizer, Trainer, exportPeftAdapter, randomCheckpoint, randomModelConfig, saveCheckpoint, trainByteLevelBpe, type ModelConfig, type TokenizerJson } from '@palette/peft-core';
import { clearSessionCache } from '@palette/gpu-kernels';
import { DirBlobStore, type BlobStore } from '@palette/object-store';
import { parseJobPayload, type AdapterFiles, type JobInputs, type JobProgress, type ModelFiles } from '@palette/job-contracts';
import { uploadFiles } from '../src/blob-files';
import { JobInterruptedError, WorkerError } from '../src/errors';
import type { JobContext } from '../src/job-context';
import { createJobLogger } from '../src/job-logger';
import { processTransfer } from '../src/processors/transfer';
import { ProgressReporter } from '../src/progress-reporter';

const LETTERS = 'abcdef';
function examples(count: number, seed: number): { prompt: string; completion: string }[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const l = Array.from({ length: 3 }, () => LETTERS[rng.int(LETTERS.length)]!);
    return { prompt: `${l.join(' ')} ?`, completion: ` ${l[2]!}` };
  });
}

function tokenizerJson(merges: number): TokenizerJson {
  return trainByteLevelBpe([...examples(200, 99).map((e) => `${e.prompt}${e.completion}`)], 3 + 256 + merges, { minFrequency: 1 });
}

function config(tok: Tokenizer, hidden: number): ModelConfig {
  return randomModelConfig({ vocabSize: tok.vocabSize, hiddenSize: hidden, intermediateSize: hidden * 2, numHeads: 4, numKvHeads: 2, headDim: hidden / 4, maxPositionEmbeddings: 96, bosTokenId: tok.bosTokenId ?? 0, eosTokenId: tok.eosTokenId ?? 0 });
}

let root: string;
let store: BlobStore;
let source: ModelFiles;
let target: ModelFiles;
let adapter: AdapterFiles;

async function storeModel(name: string, cfg: ModelConfig, weights: Parameters<typeof saveCheckpoint>[2], tok: TokenizerJson): Promise<ModelFiles> {
  const dir = path.join(root, name);
  await saveCheckpoint(dir, cfg, weights, { dtype: 'F32' });
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tok));
  const stored = await uploadFiles(store, dir);
  return Object.fromEntries(Object.entries(stored).map(([n, f]) => [n, f.sha256])) as ModelFiles;
}

function input(overrides: Partial<JobInputs['transfer']> = {}): JobInputs['transfer'] {
  return {
    sourceBase: { name: 'src', files: source },
    sourceAdapter: { ref: 'last-letter@v1', files: adapter },
    targetBase: { name: 'tgt', files: target },
    seeds: { prompts: [...new Set(examples(40, 7).map((e) => e.prompt))].slice(0, 5) },
    hyperparameters: { candidates: 32, filter: false, promptMaxNewTokens: 12, answerMaxNewTokens: 4, minAccepted: 4, training: { steps: 20, batchSize: 8, lr: 1e-2, warmupSteps: 0, seed: 5, lora: { r: 4, alpha: 8 } } },
    checkpointing: { everySteps: 5 },
    ...overrides,
  };
}

interface Attempt {
  readonly ctx: JobContext<'transfer'>;
  readonly sent: JobProgress[];
  readonly shutdown: AbortController;
}

function attempt(name: string, payload: JobInputs['transfer'], previous: JobProgress | undefined): Attempt {
  const sent: JobProgress[] = [];
  const shutdown = new AbortController();
  const progress = new ProgressReporter(async (p) => void sent.push(p), 0, previous?.checkpoint?.step, previous?.checkpoint);
  const ctx: JobContext<'transfer'> = {
    jobId: 'transfer-job',
    kind: 'transfer',
    payload: parseJobPayload('transfer', payload),
    store,
    scratchDir: path.join(root, `scratch-${name}`),
    cancelSignal: new AbortController().signal,
    shutdownSignal: shutdown.signal,
    progress,
    log: createJobLogger('transfer-job', 'transfer', async () => undefined, () => undefined),
    previous,
    runtime: { intraOpThreads: 1 },
  };
  return { ctx, sent, shutdown };
}

describe('transfer processor', () => {
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'palette-transfer-proc-'));
    store = new DirBlobStore({ root: path.join(root, 'blobs') });
    const srcJson = tokenizerJson(16);
    const tgtJson = tokenizerJson(40);
    const srcTok = Tokenizer.fromJson(srcJson);
    const tgtTok = Tokenizer.fromJson(tgtJson);
    const srcCfg = config(srcTok, 32);
    const tgtCfg = config(tgtTok, 48);
    const srcWeights = randomCheckpoint(srcCfg, 10);
    source = await storeModel('src', srcCfg, srcWeights, srcJson);
    // A target that knows task-like text (five prompts a line), so its few-shot candidates look like prompts.
    const lines = Array.from({ length: 120 }, (_, i) => examples(5, 1000 + i).map((e) => e.prompt).join('\n'));
    const pre = await Trainer.create({ config: tgtCfg, weights: randomCheckpoint(tgtCfg, 20), tokenizer: tgtTok, train: lines.map((text) => ({ text })), options: { mode: 'full', steps: 60, batchSize: 16, lr: 3e-3, warmupSteps: 5, minLr: 1e-4, maxGradNorm: 1, seed: 2 } });
    await pre.train();
    target = await storeModel('tgt', tgtCfg, pre.baseWeights(), tgtJson);
    await pre.dispose();
    const spec = { r: 8, alpha: 16, targetModules: 'all-linear', init: 'peft-default' } as const;
    const teacher = await Trainer.create({ config: srcCfg, weights: srcWeights, tokenizer: srcTok, train: examples(200, 1), options: { mode: 'lora', steps: 120, batchSize: 16, lr: 1e-2, warmupSteps: 10, minLr: 1e-4, maxGradNorm: 1, seed: 1, lora: spec } });
    await teacher.train();
    const dir = path.join(root, 'adapter');
    await exportPeftAdapter(dir, teacher.loraWeights(), { spec, base: srcCfg });
    await teacher.dispose();
    const stored = await uploadFiles(store, dir, ['adapter_config.json', 'adapter_model.safetensors']);
    adapter = { 'adapter_config.json': stored['adapter_config.json']!.sha256, 'adapter_model.safetensors': stored['adapter_model.safetensors']!.sha256 };
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
    clearSessionCache();
  });

  it('interrupted in training, resumes from the stored distillation set and checkpoint', async () => {
    const first = attempt('1', input(), undefined);
    // Shut down once the student has passed its first checkpoint (step 5).
    const watch = setInterval(() => {
      if (first.sent.some((p) => p.checkpoint !== undefined)) first.shutdown.abort('test shutdown');
    }, 5);
    await assert.rejects(processTransfer(first.ctx), (e: unknown) => e instanceof JobInterruptedError);
    clearInterval(watch);
    await first.ctx.progress.flush();
    const phases = [...new Set(first.sent.map((p) => p.phase))];
    assert.deepEqual(phases.slice(0, 5), ['loading', 'generating', 'filtering', 'answering', 'training'], phases.join(','));
    const last = first.sent.at(-1)!;
    assert.ok(last.checkpoint !== undefined && last.checkpoint.step >= 5 && last.checkpoint.step < 20, JSON.stringify(last.checkpoint));
    const set = last.transfer?.distillationSet;
    assert.ok(set !== undefined, 'the distillation set is recorded before training');
    assert.equal(last.transfer?.acceptanceRate, 1, 'unfiltered: every candidate is kept');
    assert.ok((last.transfer?.answered ?? 0) >= 4);

    const second = attempt('2', input(), last);
    const result = await processTransfer(second.ctx);
    assert.ok(!second.sent.some((p) => p.phase === 'generating' || p.phase === 'answering'), 'no generation on resume');
    assert.equal(result.metrics.resumedFromStep, last.checkpoint!.step);
    assert.equal(result.metrics.steps, 20);
    assert.equal(result.metrics.transfer.reusedDistillationSet, true);
    assert.equal(result.distillationSet.sha256, set);
    assert.equal(result.metrics.transfer.answered, last.transfer?.answered);
    assert.equal(result.metrics.transfer.filtered, false);
    assert.equal(result.metrics.transfer.seedCount, 5);
    assert.ok(Number.isFinite(result.metrics.finalLoss));
    assert.deepEqual(Object.keys(result.adapter.files).sort(), ['adapter_config.json', 'adapter_model.safetensors']);
  });

  it('refuses a source adapter that does not fit the source base (not retried)', async () => {
    // The target base as "source": the 32-wide adapter cannot load on 48-wide weights.
    const wrong = input({ sourceBase: { name: 'tgt', files: target } });
    await assert.rejects(processTransfer(attempt('3', wrong, undefined).ctx), (e: unknown) => e instanceof WorkerError && e.code === 'INPUT_INVALID' && /last-letter@v1/.test(e.message));
  });
});
