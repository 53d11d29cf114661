import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clearSessionCache } from '@palette/gpu-kernels';
import { LlamaModel } from '../../src/model/llama-model';
import { randomCheckpoint } from '../../src/testing/random-model';
import { generateSyntheticPrompts } from '../../src/transfer/synthetic-prompts';
import { Rng } from '../../src/util/rng';
import { taskExamples, taskTokenizer, tinyConfig } from './fixtures';

describe('generateSyntheticPrompts', () => {
  after(() => clearSessionCache());

  it('is deterministic per rng seed and returns parsed, distinct, non-empty prompts', async () => {
    const tokenizer = taskTokenizer(16);
    const config = tinyConfig(tokenizer, 32);
    const model = LlamaModel.create({ config, weights: randomCheckpoint(config, 5) });
    const seeds = taskExamples(5, 7).map((e) => e.prompt);
    const run = (seed: number) => generateSyntheticPrompts({ model, tokenizer, seeds, n: 8, rng: new Rng(seed), options: { maxNewTokens: 10, batchSize: 8 } });
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.prompts, c.prompts);
    assert.ok(a.prompts.length > 0 && a.prompts.length <= 8);
    assert.equal(new Set(a.prompts).size, a.prompts.length);
    for (const p of a.prompts) {
      assert.ok(p.length > 0 && p === p.trim() && !p.includes('\n'), JSON.stringify(p));
      assert.ok(!seeds.includes(p));
    }
    assert.ok(a.generations >= a.prompts.length && a.generations <= 32);
    await model.dispose();
  });

  it('seedPrefixChars primes generations with the start of a seed\'s input after the shared start', async () => {
    const tokenizer = taskTokenizer(16);
    const config = tinyConfig(tokenizer, 32);
    const model = LlamaModel.create({ config, weights: randomCheckpoint(config, 5) });
    // Shared start "Q: "; every input begins with "z", which a random model almost never writes itself.
    const seeds = taskExamples(5, 7).map((e) => `Q: z${e.prompt}`);
    const run = (seedPrefixChars: number) => generateSyntheticPrompts({ model, tokenizer, seeds, n: 24, rng: new Rng(3), options: { maxNewTokens: 8, batchSize: 8, seedPrefixChars } });
    const startsLikeSeeds = (prompts: readonly string[]) => prompts.filter((p) => p.startsWith('Q: z')).length / prompts.length;
    const off = await run(0);
    const on = await run(2);
    assert.ok(on.prompts.length >= 12 && off.prompts.length >= 12, `${on.prompts.length} / ${off.prompts.length} prompts`);
    assert.ok(on.prompts.every((p) => p.startsWith('Q: ')), 'the shared start stays');
    // 0, 1 or 2 characters of a seed's input: about two thirds start with its "z".
    assert.ok(startsLikeSeeds(on.prompts) >= 0.5, `with a seed prefix: ${startsLikeSeeds(on.prompts)}`);
    assert.ok(startsLikeSeeds(off.prompts) < 0.25, `without: ${startsLikeSeeds(off.prompts)}`);
    assert.ok(on.prompts.every((p) => !seeds.includes(p)), 'copies of seeds are still dropped');
    await assert.rejects(run(-1), /seedPrefixChars must be a non-negative integer/);
    await model.dispose();
  });
});
