import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { clearSessionCache } from '@palette/gpu-kernels';
import { referenceForward } from '../../src/reference/llama-reference';
import { randomCheckpoint, randomModelConfig } from '../../src/testing/random-model';
import { loadTrainingCheckpoint } from '../../src/train/checkpoint';
import type { TrainingExample } from '../../src/train/data';
import { convertResidualLora } from '../../src/train/lora-setup';
import { Trainer, type ProgressEvent, type TrainerOptions } from '../../src/train/trainer';
import { CharTokenizer } from './fixtures';

const tok = new CharTokenizer('abcdefgh>');
const config = randomModelConfig({ vocabSize: tok.vocabSize, maxPositionEmbeddings: 32 });
const weights = randomCheckpoint(config, 3);
const letters = 'abcdefgh';
const examples: TrainingExample[] = Array.from({ length: 24 }, (_, i) => {
  const s = [0, 1, 2].map((k) => letters[(i * 5 + k * 3) % 8]).join('');
  return { prompt: `${s}>`, completion: [...s].reverse().join('') };
});

const loraOptions = (over: Partial<TrainerOptions> = {}): TrainerOptions => ({
  mode: 'lora',
  steps: 6,
  batchSize: 4,
  gradAccumulation: 2,
  lr: 1e-2,
  warmupSteps: 2,
  minLr: 1e-3,
  weightDecay: 0.01,
  maxGradNorm: 1,
  seed: 9,
  lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'], init: 'gaussian' },
  intraOpThreads: 1,
  ...over,
});

async function run(options: TrainerOptions, stopAfterStep?: number): Promise<Trainer> {
  const t = await Trainer.create({ config, weights, tokenizer: tok, train: examples, eval: examples.slice(0, 5), options });
  await t.train(stopAfterStep !== undefined ? { stopAfterStep } : {});
  return t;
}

function paramsOf(t: Trainer): Map<string, Float32Array> {
  const ck = t.checkpoint();
  return new Map([...ck.params].map(([n, p]) => [n, p.data]));
}

describe('Trainer', () => {
  after(() => clearSessionCache());

  it('trains a LoRA (loss falls), emits progress, and is bit-identical for the same seed', async () => {
    const events: ProgressEvent[] = [];
    const a = await Trainer.create({ config, weights, tokenizer: tok, train: examples, eval: examples.slice(0, 5), options: loraOptions({ steps: 12, evalEvery: 6 }) });
    const before = await a.evaluate();
    const result = await a.train({ onProgress: (e) => events.push(e) });
    assert.equal(result.status, 'completed');
    assert.equal(events.length, 12);
    assert.deepEqual(events.map((e) => e.step), Array.from({ length: 12 }, (_, i) => i + 1));
    assert.equal(events[0]!.lr, 0, 'warm-up starts at 0');
    assert.ok(events.every((e) => e.tokensPerSecond > 0 && e.etaSeconds >= 0 && Number.isFinite(e.gradNorm)));
    assert.ok(events[5]!.evalLoss !== undefined && events[11]!.evalLoss !== undefined && events[4]!.evalLoss === undefined);
    assert.ok(result.evalLoss! < before! - 0.1, `eval loss ${before} → ${result.evalLoss}`);
    const b = await run(loraOptions({ steps: 12, evalEvery: 6 }));
    assert.deepEqual(b.losses, a.losses, 'same seed, same losses bit for bit');
    const c = await run(loraOptions({ steps: 12, seed: 10 }));
    assert.notDeepEqual(c.losses, a.losses, 'another seed gives another run');
    await Promise.all([a.dispose(), b.dispose(), c.dispose()]);
  });

  it('checkpoint + resume continues bit-exactly (params, optimizer, data order, step)', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'palette-ckpt-'));
    try {
      const straight = await run(loraOptions());
      const first = await run(loraOptions(), 3);
      assert.equal(first.step, 3);
      await first.saveCheckpoint(dir);
      const ckpt = await loadTrainingCheckpoint(dir);
      const second = await Trainer.create({ config, weights, tokenizer: tok, train: examples, eval: examples.slice(0, 5), options: loraOptions(), resume: ckpt });
      assert.equal(second.step, 3);
      await second.train();
      assert.deepEqual(second.losses, straight.losses);
      const p1 = paramsOf(straight);
      const p2 = paramsOf(second);
      assert.deepEqual([...p2.keys()], [...p1.keys()]);
      for (const [name, v] of p1) assert.deepEqual(Buffer.from(p2.get(name)!.buffer), Buffer.from(v.buffer), `${name} differs`);
      await assert.rejects(
        Trainer.create({ config, weights, tokenizer: tok, train: examples, options: loraOptions({ lr: 2e-2 }), resume: ckpt }),
        /different run/,
      );
      await Promise.all([straight.dispose(), first.dispose(), second.dispose()]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('honours an AbortSignal between steps', async () => {
    const controller = new AbortController();
    const t = await Trainer.create({ config, weights, tokenizer: tok, train: examples, options: loraOptions({ steps: 50 }) });
    const result = await t.train({ signal: controller.signal, onProgress: (e) => e.step === 2 && controller.abort() });
    assert.equal(result.status, 'aborted');
    assert.equal(result.step, 2);
    await t.dispose();
  });

  it('PiSSA trains against a residual base; converted to plain LoRA it reproduces the model on the original base', async () => {
    const t = await run(loraOptions({ steps: 3, lora: { r: 2, alpha: 4, targetModules: ['q_proj', 'up_proj'], init: 'pissa' } }));
    assert.ok(t.usesResidualBase && t.initialLora !== undefined);
    const tokens = [[1, 3, 4, 11, 5]];
    const onResidual = referenceForward(config, t.baseWeights(), tokens, { lora: t.loraWeights() });
    const converted = convertResidualLora(t.loraWeights(), t.initialLora!);
    assert.equal([...converted.modules.values()][0]!.A.shape[0], 4, 'rank 2r');
    const onOriginal = referenceForward(config, weights, tokens, { lora: converted });
    let worst = 0;
    for (let i = 0; i < onResidual.data.length; i++) worst = Math.max(worst, Math.abs(onResidual.data[i]! - onOriginal.data[i]!));
    assert.ok(worst < 1e-4, `logits differ by ${worst}`);
    await t.dispose();
  });

  it('LoRA-GA initialises from estimated gradients and keeps the function at init', async () => {
    const t = await Trainer.create({ config, weights, tokenizer: tok, train: examples, options: loraOptions({ steps: 1, lora: { r: 2, alpha: 4, targetModules: ['q_proj'], init: 'lora-ga' } }) });
    const lora = t.loraWeights();
    assert.ok([...lora.modules.values()].every((m) => m.B.data.some((v) => v !== 0)), 'B is not zero under LoRA-GA');
    const tokens = [[1, 3, 4, 11, 5]];
    const a = referenceForward(config, t.baseWeights(), tokens, { lora });
    const b = referenceForward(config, weights, tokens);
    for (let i = 0; i < a.data.length; i++) assert.ok(Math.abs(a.data[i]! - b.data[i]!) < 1e-4);
    await t.dispose();
  });

  it('full mode trains every weight and exempts norms from weight decay', async () => {
    const t = await run({ mode: 'full', steps: 4, batchSize: 4, lr: 3e-3, seed: 1, weightDecay: 0.1, intraOpThreads: 1 });
    assert.ok(t.losses[3]! < t.losses[0]!, `loss ${t.losses}`);
    const trained = t.baseWeights();
    assert.equal(trained.size, weights.size);
    assert.notDeepEqual(trained.get('model.layers.0.self_attn.q_proj.weight')!.data, weights.get('model.layers.0.self_attn.q_proj.weight')!.data);
    assert.throws(() => t.loraWeights(), /only defined for LoRA/);
    await t.dispose();
  });

  it('rejects bad options with messages naming them', async () => {
    const mk = (o: Partial<TrainerOptions>): Promise<Trainer> => Trainer.create({ config, weights, tokenizer: tok, train: examples, options: loraOptions(o) });
    await assert.rejects(mk({ epochs: 2 }), /exactly one of steps and epochs/);
    await assert.rejects(mk({ lora: { r: 2, alpha: 2, targetModules: ['q_proj'], init: 'gaussian', dropout: 0.1 } }), /dropout/);
    await assert.rejects(mk({ batchSize: 0 }), /batchSize/);
  });
});
