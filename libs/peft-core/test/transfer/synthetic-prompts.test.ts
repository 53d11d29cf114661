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
});
