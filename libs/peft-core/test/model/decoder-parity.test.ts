import { describe, it } from 'node:test';
import { referenceForward } from '../../src/reference/llama-reference';
import { randomCheckpoint, randomLora, randomModelConfig } from '../../src/testing/random-model';
import type { ModelConfig } from '../../src/formats/model-config';
import { assertClose, graphLogits } from './parity-helpers';

const TOL = 1e-4;
const TOKENS = [
  [1, 5, 9, 3, 30, 7, 7, 2],
  [4, 0, 31, 12, 6, 19, 22, 8],
];

const CASES: { name: string; config: ModelConfig }[] = [
  { name: 'llama GQA (4 heads over 2 kv heads)', config: randomModelConfig() },
  { name: 'tied embeddings, MHA', config: randomModelConfig({ tieWordEmbeddings: true, numKvHeads: 4 }) },
  { name: 'qwen2 q/k/v bias', config: randomModelConfig({ family: 'qwen2', attentionBias: true }) },
  { name: 'explicit head_dim 6 ≠ hidden/heads', config: randomModelConfig({ headDim: 6, numHeads: 4, numKvHeads: 1, hiddenSize: 16 }) },
  { name: 'hidden 64, 8 heads over 2 kv heads', config: randomModelConfig({ hiddenSize: 64, numHeads: 8, numKvHeads: 2, intermediateSize: 96, vocabSize: 48 }) },
];

describe('decoder graph matches referenceForward', () => {
  for (const { name, config } of CASES) {
    it(`${name}: base model`, async () => {
      const weights = randomCheckpoint(config, 11);
      const expected = referenceForward(config, weights, TOKENS);
      assertClose(await graphLogits(config, weights, TOKENS), expected.data, TOL, name);
    });
    it(`${name}: with a LoRA on all projections`, async () => {
      const weights = randomCheckpoint(config, 12);
      const lora = randomLora(config, { r: 3, alpha: 6, seed: 5 });
      const expected = referenceForward(config, weights, TOKENS, { lora });
      const base = referenceForward(config, weights, TOKENS);
      const actual = await graphLogits(config, weights, TOKENS, lora);
      assertClose(actual, expected.data, TOL, `${name} + LoRA`);
      // The adapter must visibly move the logits, or the check above proves nothing about LoRA.
      let moved = 0;
      for (let i = 0; i < actual.length; i++) moved = Math.max(moved, Math.abs(actual[i]! - base.data[i]!));
      if (moved < 1e-2) throw new Error(`LoRA barely changed the logits (${moved})`);
    });
  }
});
