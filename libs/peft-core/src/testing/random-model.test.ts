import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LINEAR_MODULES } from '../formats/model-config';
import { randomCheckpoint, randomLora, randomModelConfig } from './random-model';

test('randomModelConfig: tiny GQA defaults, overrides, head_dim follows hidden size', () => {
  const c = randomModelConfig();
  assert.equal(c.numHeads % c.numKvHeads, 0);
  assert.equal(c.numHeads * c.headDim, c.hiddenSize);
  const q = randomModelConfig({ family: 'qwen2', attentionBias: true, hiddenSize: 24, numHeads: 6, numKvHeads: 2 });
  assert.equal(q.headDim, 4);
  assert.equal(q.attentionBias, true);
});

test('randomCheckpoint: every HF tensor with the right shape, seeded, biases and lm_head per config', () => {
  const c = randomModelConfig({ attentionBias: true });
  const w = randomCheckpoint(c, 3);
  // embed, 2×(2 norms + 7 linears + 3 biases), final norm, lm_head
  assert.equal(w.size, 1 + c.numLayers * 12 + 2);
  assert.deepEqual(w.get('model.layers.1.self_attn.k_proj.weight')!.shape, [c.numKvHeads * c.headDim, c.hiddenSize]);
  assert.deepEqual(w.get('model.layers.0.mlp.down_proj.weight')!.shape, [c.hiddenSize, c.intermediateSize]);
  assert.deepEqual(w.get('model.layers.0.self_attn.v_proj.bias')!.shape, [c.numKvHeads * c.headDim]);
  assert.deepEqual(randomCheckpoint(c, 3).get('lm_head.weight')!.data, w.get('lm_head.weight')!.data);
  assert.notDeepEqual(randomCheckpoint(c, 4).get('lm_head.weight')!.data, w.get('lm_head.weight')!.data);
  const tied = randomCheckpoint(randomModelConfig({ tieWordEmbeddings: true }), 3);
  assert.equal(tied.has('lm_head.weight'), false);
  assert.equal(tied.has('model.layers.0.self_attn.q_proj.bias'), false);
});

test('randomLora: non-zero B on the targeted modules only, scaling alpha/r, optional DoRA magnitudes', () => {
  const c = randomModelConfig();
  const lora = randomLora(c, { r: 4, alpha: 8, seed: 1, targetModules: ['q_proj', 'down_proj'] });
  assert.equal(lora.modules.size, 2 * c.numLayers);
  const q = lora.modules.get('model.layers.1.self_attn.q_proj')!;
  assert.deepEqual(q.A.shape, [4, c.hiddenSize]);
  assert.deepEqual(q.B.shape, [c.numHeads * c.headDim, 4]);
  assert.equal(q.scaling, 2);
  assert.ok(q.B.data.some((x) => x !== 0));
  const all = randomLora(c, { r: 2, seed: 2, doraBase: randomCheckpoint(c, 1) });
  assert.equal(all.modules.size, LINEAR_MODULES.length * c.numLayers);
  assert.ok([...all.modules.values()].every((m) => m.magnitude !== undefined && m.magnitude.data.every((x) => x > 0)));
});
