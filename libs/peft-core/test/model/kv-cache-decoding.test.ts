import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { referenceForward } from '../../src/reference/llama-reference';
import { randomCheckpoint, randomLora, randomModelConfig } from '../../src/testing/random-model';
import { LlamaModel } from '../../src/model/llama-model';
import { argmax } from '../../src/model/sampling';
import { assertClose } from './parity-helpers';

const TOL = 1e-4;
const config = randomModelConfig({ vocabSize: 40, eosTokenId: 2 });
const weights = randomCheckpoint(config, 21);
const model = LlamaModel.create({ config, weights });
after(() => model.dispose());

/** Last-position logits of the reference for one unpadded row. */
function referenceLast(tokens: number[], lora?: Parameters<typeof referenceForward>[3]): Float32Array {
  const V = config.vocabSize;
  const logits = referenceForward(config, weights, [tokens], lora).data;
  return logits.subarray((tokens.length - 1) * V, tokens.length * V);
}

describe('KV-cache decoding', () => {
  it('matches recomputing from scratch at every step, with left-padded prompts of different lengths', async () => {
    const prompts = [[1, 7, 9, 11, 3], [1, 30], [1, 4, 4, 8]];
    const stepLogits: Float32Array[][] = prompts.map(() => []);
    const results = await model.generate(prompts, {
      maxNewTokens: 6,
      stopTokenIds: [],
      onLogits: (row, logits) => stepLogits[row]!.push(logits.slice()),
    });
    for (const [b, prompt] of prompts.entries()) {
      assert.equal(results[b]!.tokens.length, 6);
      assert.equal(results[b]!.finishReason, 'length');
      const sequence = [...prompt, ...results[b]!.tokens];
      for (let k = 0; k < 6; k++) {
        const prefix = sequence.slice(0, prompt.length + k);
        const expected = referenceLast(prefix);
        assertClose(stepLogits[b]![k]!, expected, TOL, `row ${b} step ${k}`);
        assert.equal(results[b]!.tokens[k], argmax(expected), `row ${b} step ${k}: greedy token differs from recomputation`);
      }
    }
  });

  it('the cached decode agrees with the uncached forward graph of the same model', async () => {
    const prompt = [1, 12, 13, 5];
    const result = await model.generate(prompt, { maxNewTokens: 5, stopTokenIds: [] });
    const full = await model.forward([[...prompt, ...result.tokens]]);
    const V = config.vocabSize;
    for (let k = 0; k < 5; k++) {
      const t = prompt.length - 1 + k;
      assert.equal(result.tokens[k], argmax(full.data.subarray(t * V, (t + 1) * V)));
    }
  });

  it('rows finish independently: stop tokens and the shouldStop callback', async () => {
    const prompts = [[1, 7, 9], [1, 30, 4], [1, 4]];
    const free = await model.generate(prompts, { maxNewTokens: 6, stopTokenIds: [] });
    const stopToken = free[0]!.tokens[2]!; // row 0 stops at its third token
    const firstStop = free[0]!.tokens.indexOf(stopToken);
    const stopped = await model.generate(prompts, {
      maxNewTokens: 6,
      stopTokenIds: [stopToken],
      shouldStop: (row, generated) => row === 1 && generated.length === 2,
    });
    assert.deepEqual(stopped[0], { tokens: free[0]!.tokens.slice(0, firstStop), finishReason: 'stop' });
    assert.deepEqual(stopped[1]!.finishReason, free[1]!.tokens.slice(0, 2).includes(stopToken) ? 'stop' : 'callback');
    // Rows still running after others finished keep producing the same tokens as without stops.
    const cut2 = free[2]!.tokens.indexOf(stopToken);
    assert.deepEqual(stopped[2]!.tokens, cut2 < 0 ? free[2]!.tokens : free[2]!.tokens.slice(0, cut2));
  });

  it('seeded sampling is reproducible, and top-k 1 is greedy', async () => {
    const prompt = [1, 9, 9, 3];
    const sample = (seed: number): Promise<number[]> =>
      model.generate(prompt, { maxNewTokens: 8, temperature: 1.5, topP: 0.95, seed, stopTokenIds: [] }).then((r) => r.tokens);
    assert.deepEqual(await sample(5), await sample(5));
    const seeds = await Promise.all([1, 2, 3, 4].map(sample));
    assert.ok(new Set(seeds.map((s) => s.join(','))).size > 1, 'different seeds never gave different samples');
    const greedy = await model.generate(prompt, { maxNewTokens: 8, stopTokenIds: [] });
    const topK1 = await model.generate(prompt, { maxNewTokens: 8, temperature: 2, topK: 1, seed: 9, stopTokenIds: [] });
    assert.deepEqual(topK1.tokens, greedy.tokens);
  });

  it('decodes with a LoRA and matches the reference with that adapter', async () => {
    const lora = randomLora(config, { r: 4, alpha: 8, seed: 3, targetModules: ['q_proj', 'v_proj', 'down_proj'] });
    const prompt = [1, 22, 17];
    const logits: Float32Array[] = [];
    const result = await model.generate(prompt, { maxNewTokens: 4, stopTokenIds: [], lora, onLogits: (_, l) => logits.push(l.slice()) });
    const sequence = [...prompt, ...result.tokens];
    for (let k = 0; k < 4; k++) {
      assertClose(logits[k]!, referenceLast(sequence.slice(0, prompt.length + k), { lora }), TOL, `LoRA step ${k}`);
    }
  });
});
