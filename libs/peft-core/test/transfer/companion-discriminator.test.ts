/**
 * The companion discriminator a `train` job trains after its adapter: synthetic prompts from the
 * source model WITH the adapter, then real vs synthetic. On the "repeat the last letter" task with
 * a briefly trained teacher, the trained discriminator calls most real prompts real; its figures
 * are the ones the job reports. Plus the few-shot separator choice for multi-line prompts.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clearSessionCache } from '@palette/gpu-kernels';
import { PeftCoreError } from '../../src/errors';
import { randomCheckpoint } from '../../src/testing/random-model';
import { Trainer } from '../../src/train/trainer';
import { trainCompanionDiscriminator } from '../../src/transfer/companion-discriminator';
import { fewShotSeparator, promptEndOf, promptStartOf } from '../../src/transfer/synthetic-prompts';
import { taskExamples, taskTokenizer, tinyConfig } from './fixtures';

describe('fewShotSeparator', () => {
  it('picks a separator no prompt contains', () => {
    assert.equal(fewShotSeparator(['a b ?', 'c d ?']), '\n');
    assert.equal(fewShotSeparator(['Q: % abc\nA:', 'Q: % de\nA:']), '\n\n');
    assert.equal(fewShotSeparator(['one\n\ntwo']), '\n###\n');
    assert.throws(() => fewShotSeparator(['\n', '\n\n', '\n###\n', '\n<|example|>\n']), (e: unknown) => e instanceof PeftCoreError && e.code === 'INVALID_ARGUMENT');
  });
});

describe('promptEndOf', () => {
  it('is the template line every seed ends with, or nothing for one-line seeds', () => {
    assert.equal(promptEndOf(['Q: % abc\nA:', 'Q: % de\nA:', 'Q: % fgh\nA:']), '\nA:');
    assert.equal(promptEndOf(['<|user|>\nhi\n<|assistant|>\n', '<|user|>\nho\n<|assistant|>\n']), '\n<|assistant|>\n');
    assert.equal(promptEndOf(['a c b ?', 'b b a ?']), undefined);
    assert.equal(promptEndOf(['Q: % abc\nA:']), undefined, 'one seed shows no shared form');
  });

  it('promptStartOf: the shared start up to a whitespace, never half a word', () => {
    assert.equal(promptStartOf(['Q: % abc\nA:', 'Q: % abd\nA:']), 'Q: % ');
    assert.equal(promptStartOf(['Translate: cat', 'Translate: car']), 'Translate: ');
    assert.equal(promptStartOf(['a c b ?', 'a b b ?']), undefined, 'a one-letter start is too short to prime with');
    assert.equal(promptStartOf(['abc', 'abd']), undefined);
  });
});

describe('trainCompanionDiscriminator', () => {
  after(() => clearSessionCache());

  it('trains on real vs the adapter’s own synthetic prompts and reports its figures', async () => {
    const tok = taskTokenizer(16);
    const config = tinyConfig(tok, 32);
    const base = { config, weights: randomCheckpoint(config, 10) };
    const train = taskExamples(200, 1);
    const teacher = await Trainer.create({ config, weights: base.weights, tokenizer: tok, train, options: { mode: 'lora', steps: 60, batchSize: 16, lr: 1e-2, warmupSteps: 5, minLr: 1e-4, maxGradNorm: 1, seed: 1, lora: { r: 8, alpha: 16, targetModules: 'all-linear', init: 'peft-default' } } });
    await teacher.train();
    const adapter = teacher.loraWeights();
    await teacher.dispose();

    const phases: string[] = [];
    const out = await trainCompanionDiscriminator({
      base,
      tokenizer: tok,
      adapter,
      prompts: train.map((e) => e.prompt),
      options: { realPrompts: 64, syntheticPrompts: 32, recombinedPrompts: 16, seed: 3, generation: { maxNewTokens: 12 }, discriminator: { steps: 40, seed: 4 } },
      onProgress: (phase) => {
        if (phases.at(-1) !== phase) phases.push(phase);
      },
    });
    assert.equal(out.status, 'completed');
    if (out.status !== 'completed') return;
    try {
      assert.deepEqual(phases, ['synthesize', 'train']);
      const s = out.stats;
      assert.equal(s.separator, '\n');
      // 200 draws of 3 letters from 6 hold fewer than 64 distinct prompts only with negligible odds.
      assert.equal(s.realPrompts, 64);
      assert.ok(s.syntheticPrompts > 0 && s.syntheticPrompts <= 32);
      // Recombined negatives join two real prompts' middles: trained as synthetic beside the model's.
      assert.equal(s.recombinedPrompts, 16);
      assert.equal(out.discriminator.artifact.meta.training.syntheticPrompts, s.syntheticPrompts + s.recombinedPrompts);
      assert.equal(s.steps, 40);
      assert.ok(Number.isFinite(s.finalLoss));
      assert.ok(s.realAccepted >= 0.7, `real prompts called real: ${s.realAccepted}`);
      assert.ok(s.realAccepted > s.syntheticAccepted, `real ${s.realAccepted} vs synthetic ${s.syntheticAccepted}`);
      assert.equal(out.discriminator.artifact.meta.training.realPrompts, 64);
    } finally {
      await out.discriminator.dispose();
    }
  });

  it('refuses fewer than two distinct prompts', async () => {
    const tok = taskTokenizer(16);
    const config = tinyConfig(tok, 32);
    const base = { config, weights: randomCheckpoint(config, 10) };
    const trainer = await Trainer.create({ config, weights: base.weights, tokenizer: tok, train: taskExamples(8, 1), options: { mode: 'lora', steps: 1, batchSize: 4, lr: 1e-3, seed: 1, lora: { r: 2, alpha: 4, targetModules: ['q_proj'], init: 'peft-default' } } });
    const adapter = trainer.loraWeights();
    await trainer.dispose();
    await assert.rejects(trainCompanionDiscriminator({ base, tokenizer: tok, adapter, prompts: ['a b ?', 'a b ?', ' '] }), (e: unknown) => e instanceof PeftCoreError && /at least 2 distinct/.test(e.message));
  });
});
