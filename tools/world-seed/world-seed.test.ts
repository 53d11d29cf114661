/** The seeder's pieces without a platform: names and keys, job bodies vs the job contracts, JSONL, progress lines, CLI. */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isIdempotencyKey, parseJobPayload } from '@palette/job-contracts';
import { SMALL_WORLD_RECIPE, FULL_WORLD_RECIPE, getWorldTask, parseJsonlDataset, worldTokenizer, worldTokenizerFiles } from '@palette/peft-core';
import { parseSeedCli, UsageError } from './cli-options';
import { adapterDescription } from './job-specs';
import { formatDuration, formatProgress, ProgressThrottle } from './progress';
import { parseBlock } from './sse';
import { applyOverrides, pretrainCorpusJsonl, pretrainHyperparameters, taskTrainJsonl, trainHyperparameters, worldNames } from './world-material';

describe('world names and keys', () => {
  it('derives valid, recipe-specific idempotency keys and names', () => {
    const names = worldNames(SMALL_WORLD_RECIPE);
    const keys = [names.pretrainJob, names.trainJob('reverse-word'), names.evalJob('reverse-word', 'base'), names.evalJob('multiply-digit', 'adapter')];
    for (const k of keys) assert.ok(isIdempotencyKey(k), k);
    assert.equal(new Set(keys).size, keys.length);
    assert.match(names.initBase, /^world-init-[0-9a-f]{8}$/);
    assert.equal(names.base, 'world-base');
    const full = worldNames(FULL_WORLD_RECIPE);
    assert.notEqual(full.pretrainJob, names.pretrainJob, 'another recipe, other jobs');
    const shortened = worldNames(applyOverrides(SMALL_WORLD_RECIPE, { loraSteps: 5 }));
    assert.notEqual(shortened.fingerprint, names.fingerprint, 'a shortened test world never passes for the real one');
    assert.deepEqual(names.adapterTags('parity'), ['world', 'world:small', `recipe:${names.short}`, 'task:parity']);
  });

  it('overrides replace the run lengths only', () => {
    const r = applyOverrides(FULL_WORLD_RECIPE, { pretrainSteps: 12, loraSteps: 8, evalExamples: 10, trainExamples: 64 });
    assert.equal(r.pretrain.steps, 12);
    assert.ok(r.pretrain.warmupSteps <= 3);
    assert.equal(r.lora.steps, 8);
    assert.deepEqual(r.lora.stepsByTask, {}, 'per-task steps would defeat the override');
    assert.equal(r.evaluation.examples, 10);
    assert.equal(r.lora.trainExamples, 64);
    assert.equal(r.pretrain.lr, FULL_WORLD_RECIPE.pretrain.lr);
    assert.equal(applyOverrides(FULL_WORLD_RECIPE, {}), FULL_WORLD_RECIPE);
  });
});

describe('job bodies follow the recipe and the job contracts', () => {
  it('pretrain and train hyperparameters validate against the payload schemas with the recipe numbers', () => {
    const sha = 'a'.repeat(64);
    const files = { 'config.json': sha, 'model.safetensors': sha, 'tokenizer.json': sha };
    const pre = parseJobPayload('pretrain', { baseModel: { files }, corpus: { sha256: sha }, hyperparameters: pretrainHyperparameters(FULL_WORLD_RECIPE) });
    assert.equal(pre.hyperparameters.steps, FULL_WORLD_RECIPE.pretrain.steps);
    assert.equal(pre.hyperparameters.packing, false);
    assert.equal(pre.hyperparameters.minLr, FULL_WORLD_RECIPE.pretrain.minLr);
    const task = getWorldTask('reverse-word');
    const train = parseJobPayload('train', { baseModel: { files }, dataset: { sha256: sha }, hyperparameters: trainHyperparameters(FULL_WORLD_RECIPE, task) });
    assert.equal(train.hyperparameters.steps, FULL_WORLD_RECIPE.lora.stepsByTask['reverse-word']);
    assert.equal(train.hyperparameters.lora.r, 16);
    assert.equal(train.hyperparameters.lora.targetModules, 'all-linear');
    assert.notEqual(train.hyperparameters.seed, trainHyperparameters(FULL_WORLD_RECIPE, getWorldTask('parity')).seed, 'task seeds differ');
  });

  it('registers every description and never a held-out one', () => {
    for (const id of FULL_WORLD_RECIPE.tasks) {
      const task = getWorldTask(id);
      const text = adapterDescription(task);
      for (const d of task.descriptions) assert.ok(text.includes(d));
      for (const d of task.heldOutDescriptions) assert.ok(!text.includes(d), `${id}: held-out "${d}" leaked`);
    }
  });

  it('the corpus is one prompt/completion JSONL that fits the context; task data holds no held-out example', async () => {
    const tokenizer = worldTokenizer(worldTokenizerFiles(SMALL_WORLD_RECIPE));
    const corpus = pretrainCorpusJsonl(SMALL_WORLD_RECIPE, tokenizer);
    const parsed = await parseJsonlDataset(corpus.jsonl);
    assert.equal(parsed.format, 'prompt-completion');
    assert.equal(parsed.examples.length, SMALL_WORLD_RECIPE.pretrain.corpusDocuments);
    const rows = parsed.examples.map((e) => (e.format === 'prompt-completion' ? e : assert.fail('format')));
    assert.ok(rows.some((e) => e.prompt === '') && rows.some((e) => e.prompt.startsWith('Q: ')), 'prose trains on every token, copy questions on the answer');
    const budget = SMALL_WORLD_RECIPE.base.contextLength - 2;
    for (const e of rows) assert.ok(tokenizer.encode(e.prompt + e.completion, { addSpecialTokens: false }).length <= budget);

    const task = getWorldTask('word-length');
    const data = taskTrainJsonl(SMALL_WORLD_RECIPE, task);
    assert.equal(data.examples, SMALL_WORLD_RECIPE.lora.trainExamples);
    assert.match(data.jsonl.split('\n')[0]!, /^\{"prompt":"Q: ! [a-z]+\\nA:","completion":" \d+"\}$/);

    // The full recipe's routing experts train on list rows too; every row still fits the context.
    const full = applyOverrides(FULL_WORLD_RECIPE, { trainExamples: 64 });
    const listed = await parseJsonlDataset(taskTrainJsonl(full, getWorldTask('parity')).jsonl);
    const listRows = listed.examples.filter((e) => e.format === 'prompt-completion' && e.prompt.startsWith('Q: 1. '));
    assert.equal(listRows.length, 64, 'one list row per single row');
    for (const e of listed.examples) {
      if (e.format !== 'prompt-completion') assert.fail('format');
      assert.ok(tokenizer.encode(e.prompt + e.completion, { addSpecialTokens: false }).length <= full.base.contextLength - 2, JSON.stringify(e));
    }
  });
});

describe('progress lines', () => {
  it('show the phase, task i/N, step/total, loss, tokens/s and ETA', () => {
    const line = formatProgress({ stage: 'train', task: { index: 2, total: 4, id: 'reverse-word' } }, { phase: 'training', step: 40, totalSteps: 80, loss: 1.23456, tokensPerSecond: 8120.4, etaSeconds: 75 });
    assert.equal(line, 'task 2/4 reverse-word · train  training  step 40/80 (50%)  loss 1.2346  8,120 tok/s  ETA 1m15s');
    assert.equal(formatProgress({ stage: 'pretrain' }, { phase: 'loading', step: 0, totalSteps: 0, loss: null }), 'pretrain  loading');
    assert.match(formatProgress({ stage: 'evaluate adapter' }, { phase: 'evaluating', step: 25, totalSteps: 50 }), /examples 25\/50 \(50%\)/);
    assert.equal(formatDuration(9.4), '9s');
    assert.equal(formatDuration(3725), '1h02m');
    assert.equal(formatDuration(Number.NaN), '?');
  });

  it('are throttled per job, except on a change of phase', () => {
    let now = 0;
    const t = new ProgressThrottle(5000, () => now);
    assert.equal(t.shouldPrint('training'), true);
    now = 2000;
    assert.equal(t.shouldPrint('training'), false);
    now = 2500;
    assert.equal(t.shouldPrint('exporting'), true);
    now = 7600;
    assert.equal(t.shouldPrint('exporting'), true);
  });

  it('SSE blocks parse; comments are skipped', () => {
    assert.deepEqual(parseBlock('id: 3\nevent: progress\ndata: {"step":1}'), { event: 'progress', data: '{"step":1}' });
    assert.equal(parseBlock(': keep-alive'), undefined);
  });
});

describe('seeder command line', () => {
  it('reads the key from the data directory by default and checks every option at once', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'seed-cli-'));
    try {
      await writeFile(path.join(dir, 'bootstrap-admin-key'), 'plt_abc_def\n');
      const o = parseSeedCli(['--variant', 'small', '--lora-steps', '5'], { DATA_DIR: dir });
      assert.equal(o.apiKey, 'plt_abc_def');
      assert.equal(o.variant, 'small');
      assert.equal(o.registry, 'http://127.0.0.1:8080');
      assert.deepEqual(o.overrides, { loraSteps: 5 });
      assert.throws(
        () => parseSeedCli(['--variant', 'huge', '--lora-steps', '0', '--registry', 'ftp://x'], { DATA_DIR: path.join(dir, 'none') }),
        (e: unknown) => e instanceof UsageError && /--registry.*\n.*--variant must be full or small.*\n.*no API key.*\n.*--lora-steps must be an integer/s.test(e.message),
      );
      assert.throws(() => parseSeedCli(['--bogus'], {}), UsageError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
