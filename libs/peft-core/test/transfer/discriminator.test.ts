import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { clearSessionCache } from '@palette/gpu-kernels';
import { randomCheckpoint } from '../../src/testing/random-model';
import { Discriminator, trainDiscriminator } from '../../src/transfer/discriminator';
import { readDiscriminatorDir, writeDiscriminatorDir } from '../../src/transfer/discriminator-artifact';
import { noisePrompts, taskExamples, taskTokenizer, tinyConfig } from './fixtures';

describe('trainDiscriminator', () => {
  after(() => clearSessionCache());

  it('separates real task prompts from random strings on held-out prompts, and round-trips as an artifact', async () => {
    const tokenizer = taskTokenizer(16);
    const config = tinyConfig(tokenizer, 32);
    const base = { config, weights: randomCheckpoint(config, 3) };
    const real = taskExamples(80, 1).map((e) => e.prompt);
    const synthetic = noisePrompts(80, 2);
    const started = performance.now();
    const disc = await trainDiscriminator({ base, tokenizer, realPrompts: real.slice(0, 60), syntheticPrompts: synthetic.slice(0, 60), options: { steps: 40, batchSize: 16, seed: 1 } });
    const seconds = (performance.now() - started) / 1000;
    const heldOut = [...real.slice(60), ...synthetic.slice(60)];
    const labels = heldOut.map((_, i) => i < 20);
    const { real: calledReal, scores } = await disc.judge(heldOut);
    const accuracy = calledReal.filter((r, i) => r === labels[i]).length / heldOut.length;
    console.log(`  discriminator: ${(accuracy * 100).toFixed(1)}% on ${heldOut.length} held-out, trained in ${seconds.toFixed(1)} s, final loss ${disc.artifact.meta.training.finalLoss.toFixed(3)}`);
    assert.ok(accuracy > 0.9, `held-out accuracy ${accuracy}`);
    assert.ok(scores.every((s) => s >= 0 && s <= 1));

    const dir = await mkdtemp(path.join(tmpdir(), 'disc-'));
    try {
      await writeDiscriminatorDir(dir, disc.artifact);
      const loaded = Discriminator.fromArtifact({ base, tokenizer, artifact: await readDiscriminatorDir(dir) });
      assert.deepEqual(loaded.artifact.meta, disc.artifact.meta);
      const again = await loaded.score(heldOut.slice(0, 8));
      again.forEach((s, i) => assert.ok(Math.abs(s - scores[i]!) < 1e-5, `score ${i}: ${s} vs ${scores[i]}`));
      await loaded.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    await disc.dispose();
  });
});
