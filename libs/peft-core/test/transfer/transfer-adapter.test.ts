/**
 * End to end: an adapter moves from a 32-wide base with one tokenizer to a 48-wide base with
 * another (different vocabulary size). The source adapter is trained quickly on the task; the
 * target base is briefly pretrained on task-like text (a base model knows its domain's language,
 * which is what lets it write plausible prompts from a few seeds).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clearSessionCache } from '@palette/gpu-kernels';
import type { LoraWeights } from '../../src/lora/adapter';
import { LlamaModel } from '../../src/model/llama-model';
import type { HostTensor } from '../../src/tensor/host-tensor';
import { randomCheckpoint } from '../../src/testing/random-model';
import { Trainer } from '../../src/train/trainer';
import type { Tokenizer } from '../../src/tokenizer/tokenizer';
import { trainDiscriminator, type Discriminator } from '../../src/transfer/discriminator';
import { generateSyntheticPrompts } from '../../src/transfer/synthetic-prompts';
import { Rng } from '../../src/util/rng';
import { buildDistillationSet, transferAdapter, type PromptJudge, type TransferPhase, type TransferProgressEvent, type TransferResult } from '../../src/transfer/transfer-adapter';
import type { ModelConfig } from '../../src/formats/model-config';
import { taskAccuracy, taskExamples, taskTokenizer, tinyConfig, type TaskExample } from './fixtures';

interface World {
  readonly srcTok: Tokenizer;
  readonly tgtTok: Tokenizer;
  readonly source: { config: ModelConfig; weights: Map<string, HostTensor> };
  readonly target: { config: ModelConfig; weights: Map<string, HostTensor> };
  readonly weakTarget: { config: ModelConfig; weights: Map<string, HostTensor> };
  readonly teacher: LoraWeights;
  readonly heldOut: readonly TaskExample[];
  readonly discriminator: Discriminator;
}

const LORA = { r: 8, alpha: 16, targetModules: 'all-linear', init: 'peft-default' } as const;

async function buildWorld(): Promise<World> {
  const srcTok = taskTokenizer(16);
  const tgtTok = taskTokenizer(40);
  const train = taskExamples(200, 1);
  const heldOut = taskExamples(40, 2);

  const srcConfig = tinyConfig(srcTok, 32);
  const source = { config: srcConfig, weights: randomCheckpoint(srcConfig, 10) };
  const teacherTrainer = await Trainer.create({ config: srcConfig, weights: source.weights, tokenizer: srcTok, train, options: { mode: 'lora', steps: Number(process.env.TRANSFER_TEACHER_STEPS ?? 120), batchSize: 16, lr: 1e-2, warmupSteps: 10, minLr: 1e-4, maxGradNorm: 1, seed: 1, lora: LORA } });
  await teacherTrainer.train();
  const teacher = teacherTrainer.loraWeights();
  await teacherTrainer.dispose();

  // Pretraining text: five prompts a line, the layout the few-shot generator continues.
  const tgtConfig = tinyConfig(tgtTok, 48);
  const lines = Array.from({ length: 120 }, (_, i) => taskExamples(5, 1000 + i).map((e) => e.prompt).join('\n'));
  const pretrainer = await Trainer.create({ config: tgtConfig, weights: randomCheckpoint(tgtConfig, 20), tokenizer: tgtTok, train: lines.map((text) => ({ text })), options: { mode: 'full', steps: Number(process.env.TRANSFER_PRETRAIN_STEPS ?? 80), batchSize: 16, lr: 3e-3, warmupSteps: 5, minLr: 1e-4, maxGradNorm: 1, seed: 2 } });
  // A snapshot early in pretraining: a weaker base whose candidates are often off-pattern.
  await pretrainer.train({ stopAfterStep: 20 });
  const weakTarget = { config: tgtConfig, weights: pretrainer.baseWeights() };
  await pretrainer.train();
  const target = { config: tgtConfig, weights: pretrainer.baseWeights() };
  await pretrainer.dispose();

  // The discriminator lives with the source (trained while the task data existed): real prompts
  // against the source model's own few-shot generations, as in the paper.
  const sourceModel = LlamaModel.create(source);
  const synthetic = await generateSyntheticPrompts({ model: sourceModel, tokenizer: srcTok, adapter: teacher, seeds: train.slice(0, 5).map((e) => e.prompt), n: 60, rng: new Rng(3), options: { maxNewTokens: 12, batchSize: 32 } });
  await sourceModel.dispose();
  const discriminator = await trainDiscriminator({ base: source, tokenizer: srcTok, realPrompts: train.slice(0, 60).map((e) => e.prompt), syntheticPrompts: synthetic.prompts, options: { steps: 40, seed: 4 } });
  return { srcTok, tgtTok, source, target, weakTarget, teacher, heldOut, discriminator };
}

describe('transferAdapter', () => {
  let world: World;
  let result: TransferResult;
  const events: TransferProgressEvent[] = [];
  let seconds = 0;
  /** The source pair, a target and the seed prompts every transfer below uses. */
  const bases = (target: 'target' | 'weakTarget' = 'target') => ({
    sourceBase: world.source,
    sourceAdapter: world.teacher,
    sourceTokenizer: world.srcTok,
    targetBase: world[target],
    targetTokenizer: world.tgtTok,
    seeds: taskExamples(5, 3).map((e) => e.prompt),
  });

  before(async () => {
    const t0 = performance.now();
    world = await buildWorld();
    const t1 = performance.now();
    result = await transferAdapter({
      ...bases(),
      discriminator: world.discriminator,
      sourceAdapterRef: 'last-letter@1',
      options: { candidates: 96, seed: 7, generation: { maxNewTokens: 12, batchSize: 32, temperature: 1 }, answerMaxNewTokens: 4, training: { steps: Number(process.env.TRANSFER_STUDENT_STEPS ?? 120), batchSize: 16, lr: 1e-2, warmupSteps: 10, minLr: 1e-4, maxGradNorm: 1, lora: LORA } },
      onProgress: (e) => events.push(e),
    });
    seconds = (performance.now() - t1) / 1000;
    console.log(`  setup ${((t1 - t0) / 1000).toFixed(1)} s, transfer ${seconds.toFixed(1)} s`);
  });

  after(async () => {
    await world.discriminator.dispose();
    clearSessionCache();
  });

  it('moves the adapter across widths and vocabularies: the student beats the target base alone', async () => {
    assert.notEqual(world.srcTok.vocabSize, world.tgtTok.vocabSize);
    assert.notEqual(world.source.config.hiddenSize, world.target.config.hiddenSize);
    assert.equal(result.status, 'completed');
    if (result.status !== 'completed') return;
    const sourceModel = LlamaModel.create(world.source);
    const targetModel = LlamaModel.create(world.target);
    const teacherAcc = await taskAccuracy(sourceModel, world.srcTok, world.heldOut, world.teacher);
    const baseAcc = await taskAccuracy(targetModel, world.tgtTok, world.heldOut);
    const studentAcc = await taskAccuracy(targetModel, world.tgtTok, world.heldOut, result.adapter.weights);
    await sourceModel.dispose();
    await targetModel.dispose();
    const s = result.stats;
    console.log(`  teacher ${(teacherAcc * 100).toFixed(0)}%, target base ${(baseAcc * 100).toFixed(0)}%, student ${(studentAcc * 100).toFixed(0)}%; generated ${s.generate.generated} in ${s.generate.generations} generations, accepted ${s.filter.accepted} (${(s.filter.acceptanceRate * 100).toFixed(0)}%), answered ${s.answer.answered}; loss ${s.train.losses[0]!.toFixed(3)} → ${s.train.losses[s.train.losses.length - 1]!.toFixed(3)}`);
    assert.ok(teacherAcc >= 0.9, `teacher accuracy ${teacherAcc}`);
    assert.ok(studentAcc > baseAcc + 0.3, `student ${studentAcc} vs target base ${baseAcc}`);
    assert.equal(result.adapter.config.r, LORA.r);
    for (const m of result.adapter.weights.modules.values()) assert.equal(m.A.shape[1] === world.target.config.hiddenSize || m.A.shape[1] === world.target.config.intermediateSize, true);
  });

  it('reports the phases in order and the filter acceptance rate', () => {
    const order: TransferPhase[] = ['generate', 'filter', 'answer', 'train', 'export'];
    const seen = events.map((e) => e.phase).filter((p, i, all) => i === 0 || all[i - 1] !== p);
    assert.deepEqual(seen, order);
    assert.ok(events.filter((e) => e.phase === 'train').some((e) => e.loss !== undefined));
    assert.equal(result.status, 'completed');
    if (result.status !== 'completed') return;
    const { filter, answer, train, generate } = result.stats;
    assert.equal(filter.filtered, true);
    assert.equal(filter.candidates, generate.generated);
    assert.ok(filter.accepted > 0 && filter.accepted <= filter.candidates);
    assert.equal(filter.acceptanceRate, filter.accepted / filter.candidates);
    assert.equal(answer.prompts, filter.accepted);
    assert.equal(answer.answered, result.examples.length);
    assert.equal(train.steps, train.losses.length);
    assert.equal(result.lineage.sourceAdapterRef, 'last-letter@1');
    assert.match(result.lineage.seedsHash, /^[0-9a-f]{64}$/);
    assert.equal(result.lineage.targetBase.hiddenSize, 48);
  });

  it('the discriminator keeps on-pattern candidates of a weak target base; without it every candidate is kept', async () => {
    const onPattern = (p: string): boolean => /^[a-f] [a-f] [a-f] \?$/.test(p);
    const run = (discriminator?: Discriminator) =>
      transferAdapter({
        ...bases('weakTarget'),
        ...(discriminator ? { discriminator } : {}),
        options: { candidates: 64, seed: 7, generation: { maxNewTokens: 12, batchSize: 32 }, answerMaxNewTokens: 4, training: { steps: 60, batchSize: 16, lr: 1e-2, warmupSteps: 5, lora: LORA } },
      });
    const filtered = await run(world.discriminator);
    const unfiltered = await run();
    assert.ok(filtered.status === 'completed' && unfiltered.status === 'completed');
    const kept = new Set(filtered.examples.map((e) => e.prompt));
    assert.equal(unfiltered.stats.filter.filtered, false);
    assert.equal(unfiltered.stats.filter.acceptanceRate, 1);
    // Same seed, same target: both runs saw the same candidates; the filter kept a subset.
    assert.equal(filtered.stats.generate.generated, unfiltered.stats.generate.generated);
    assert.ok(filtered.stats.filter.acceptanceRate > 0 && filtered.stats.filter.acceptanceRate < 1, `acceptance ${filtered.stats.filter.acceptanceRate}`);
    const rate = (prompts: string[]): number => prompts.filter(onPattern).length / Math.max(1, prompts.length);
    const all = unfiltered.examples.map((e) => e.prompt);
    const keptRate = rate(all.filter((p) => kept.has(p)));
    const droppedRate = rate(all.filter((p) => !kept.has(p)));
    const model = LlamaModel.create(world.weakTarget);
    const accFiltered = await taskAccuracy(model, world.tgtTok, world.heldOut, filtered.adapter.weights);
    const accUnfiltered = await taskAccuracy(model, world.tgtTok, world.heldOut, unfiltered.adapter.weights);
    await model.dispose();
    console.log(`  weak target: acceptance ${(filtered.stats.filter.acceptanceRate * 100).toFixed(0)}%, on-pattern ${(keptRate * 100).toFixed(0)}% of kept vs ${(droppedRate * 100).toFixed(0)}% of dropped; student filtered ${(accFiltered * 100).toFixed(0)}%, unfiltered ${(accUnfiltered * 100).toFixed(0)}%`);
    assert.ok(keptRate > droppedRate, `on-pattern: kept ${keptRate}, dropped ${droppedRate}`);
  });

  it('with a target count of accepted prompts, generates and filters in rounds until the filter has kept that many', async () => {
    // A judge that keeps one candidate in three (by position in each batch it sees).
    let judged = 0;
    const everyThird: PromptJudge = {
      threshold: 0.5,
      judge: async (prompts) => {
        const real = prompts.map(() => judged++ % 3 === 0);
        return { real, scores: real.map((r) => (r ? 1 : 0)) };
      },
    };
    const events: TransferProgressEvent[] = [];
    const build = (accepted: number, candidates: number, discriminator?: PromptJudge) =>
      buildDistillationSet({
        ...bases(),
        ...(discriminator ? { discriminator } : {}),
        options: { candidates, accepted, seed: 7, generation: { maxNewTokens: 12, batchSize: 32 }, answerMaxNewTokens: 4 },
        onProgress: (e) => events.push(e),
      });
    // Rounds of max(256, target) candidates: at one in three, 100 kept need a second round.
    const filtered = await build(100, 400, everyThird);
    assert.equal(filtered.status, 'completed');
    if (filtered.status !== 'completed') return;
    const { generate, filter, answer } = filtered.stats;
    assert.equal(filter.accepted, 100, 'exactly the target');
    assert.equal(answer.prompts, 100);
    assert.equal(generate.acceptedTarget, 100);
    assert.ok(generate.generated > 256 && generate.generated <= 400, `${generate.generated} candidates for 100 kept at one in three`);
    assert.ok(Math.abs(filter.acceptanceRate - 1 / 3) < 0.05, `acceptance ${filter.acceptanceRate}`);
    assert.equal(new Set(filtered.examples.map((e) => e.prompt)).size, filtered.examples.length, 'no prompt twice across rounds');
    // Progress counts accepted prompts towards the target, never backwards.
    const progress = events.filter((e) => e.phase === 'generate').map((e) => e.done);
    assert.ok(progress.every((d, i) => i === 0 || d >= progress[i - 1]!) && progress.at(-1)! <= 100, JSON.stringify(progress));
    // Unfiltered, exactly the target's count of candidates is written; the cap still bounds a filter that keeps little.
    const unfiltered = await build(24, 400);
    assert.ok(unfiltered.status === 'completed' && unfiltered.stats.generate.generated === 24 && unfiltered.examples.length <= 24);
    const capped = await build(1000, 60, everyThird);
    assert.ok(capped.status === 'completed' && capped.stats.generate.generated <= 60 && capped.stats.filter.accepted <= 20);
  });
});
