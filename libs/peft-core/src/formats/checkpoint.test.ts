import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { HostTensor } from '../tensor/host-tensor';
import { Rng } from '../util/rng';
import { loadCheckpoint, saveCheckpoint, shardFileName } from './checkpoint';
import { architectureSummary, expectedWeightShapes, modelConfigToJson, parseModelConfig } from './hf-config';
import type { ModelConfig } from './model-config';
import { baseModulePaths, linearShape } from './model-modules';

const tinyConfigs: Record<string, Record<string, unknown>> = {
  llama: { model_type: 'llama', vocab_size: 32, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 64, tie_word_embeddings: false, torch_dtype: 'float32' },
  mistral: { model_type: 'mistral', vocab_size: 40, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8, sliding_window: 4096 },
  qwen2: { model_type: 'qwen2', vocab_size: 24, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 2, tie_word_embeddings: true, bos_token_id: 1, eos_token_id: [2, 3] },
  smollmTied: { model_type: 'llama', vocab_size: 20, hidden_size: 12, intermediate_size: 20, num_hidden_layers: 1, num_attention_heads: 3, tie_word_embeddings: true },
};

function randomWeights(config: ModelConfig, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of expectedWeightShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    out.set(name, { shape, data: Float32Array.from({ length: n }, () => rng.normal()) });
  }
  return out;
}

describe('parseModelConfig', () => {
  it('normalises llama, mistral, qwen2 and a tied SmolLM-style config', () => {
    const llama = parseModelConfig(tinyConfigs.llama);
    assert.equal(llama.headDim, 4);
    assert.equal(llama.numKvHeads, 1);
    assert.equal(llama.attentionBias, false);
    const mistral = parseModelConfig(tinyConfigs.mistral);
    assert.equal(mistral.headDim, 8);
    assert.deepEqual(linearShape(mistral, 'q_proj'), [32, 16]);
    assert.deepEqual(linearShape(mistral, 'k_proj'), [16, 16]);
    assert.deepEqual(linearShape(mistral, 'o_proj'), [16, 32]);
    const qwen = parseModelConfig(tinyConfigs.qwen2);
    assert.equal(qwen.attentionBias, true);
    assert.deepEqual(qwen.eosTokenId, [2, 3]);
    const smol = parseModelConfig(tinyConfigs.smollmTied);
    assert.equal(smol.numKvHeads, 3, 'num_key_value_heads defaults to num_attention_heads');
    assert.equal(smol.tieWordEmbeddings, true);
  });
  it('writes a config.json that parses back to the same ModelConfig', () => {
    for (const json of Object.values(tinyConfigs)) {
      const config = parseModelConfig(json);
      assert.deepEqual(parseModelConfig(JSON.parse(JSON.stringify(modelConfigToJson(config)))), config);
    }
  });
  const bad: Array<[string, Record<string, unknown>, RegExp, string?]> = [
    ['not an object', [] as unknown as Record<string, unknown>, /must be a JSON object/],
    ['missing model_type', { hidden_size: 8 }, /"model_type" is required/],
    ['unsupported family', { ...tinyConfigs.llama, model_type: 'gpt2' }, /model_type "gpt2" is not supported/],
    ['missing hidden_size', { ...tinyConfigs.llama, hidden_size: undefined }, /"hidden_size" is required/],
    ['zero layers', { ...tinyConfigs.llama, num_hidden_layers: 0 }, /"num_hidden_layers" must be a positive integer/],
    ['string vocab', { ...tinyConfigs.llama, vocab_size: '32' }, /"vocab_size" must be a positive integer/],
    ['heads not a multiple of kv heads', { ...tinyConfigs.llama, num_attention_heads: 2, num_key_value_heads: 3 }, /multiple of num_key_value_heads/],
    ['hidden not divisible by heads', { ...tinyConfigs.llama, hidden_size: 9 }, /not divisible by num_attention_heads/],
    ['odd head_dim', { ...tinyConfigs.llama, head_dim: 3 }, /must be even/],
    ['negative eps', { ...tinyConfigs.llama, rms_norm_eps: -1 }, /"rms_norm_eps" must be a positive number/],
    ['bad tie flag', { ...tinyConfigs.llama, tie_word_embeddings: 'yes' }, /"tie_word_embeddings" must be a boolean/],
    ['bad eos', { ...tinyConfigs.llama, eos_token_id: 'x' }, /"eos_token_id" must be a token id/],
    ['bad rope_scaling', { ...tinyConfigs.llama, rope_scaling: 2 }, /"rope_scaling" must be an object/],
    ['llama attention_bias', { ...tinyConfigs.llama, attention_bias: true }, /attention_bias=true/, 'UNSUPPORTED'],
    ['gelu', { ...tinyConfigs.llama, hidden_act: 'gelu' }, /hidden_act "gelu"/, 'UNSUPPORTED'],
  ];
  for (const [name, json, message, code] of bad) {
    it(`rejects ${name}`, () => {
      assert.throws(() => parseModelConfig(json), (e: Error & { code?: string }) => e.code === (code ?? 'MODEL_CONFIG_INVALID') && message.test(e.message));
    });
  }
});

describe('architectureSummary and expectedWeightShapes', () => {
  it('counts parameters by hand for the tiny llama (untied, GQA)', () => {
    const c = parseModelConfig(tinyConfigs.llama);
    // embed 32*8 + lm_head 32*8 + norm 8 + per layer: q 8*8, k 4*8, v 4*8, o 8*8, mlp 3*12*8, norms 2*8
    const perLayer = 64 + 32 + 32 + 64 + 288 + 16;
    const summary = architectureSummary(c);
    assert.equal(summary.parameters, 256 + 256 + 8 + 2 * perLayer);
    assert.equal(summary.kvHeads, 1);
    assert.equal(summary.contextLength, 64);
  });
  it('includes qwen2 q/k/v biases and drops lm_head when tied', () => {
    const c = parseModelConfig(tinyConfigs.qwen2);
    const shapes = expectedWeightShapes(c);
    assert.deepEqual(shapes.get('model.layers.1.self_attn.k_proj.bias'), [8]);
    assert.equal(shapes.has('model.layers.0.self_attn.o_proj.bias'), false);
    assert.equal(shapes.has('lm_head.weight'), false);
    const perLayer = 4 * 64 + 3 * 8 + 3 * 16 * 8 + 16;
    assert.equal(architectureSummary(c).parameters, 24 * 8 + 8 + 2 * perLayer);
  });
  it('lists every module path (7 per layer + embeddings + lm_head)', () => {
    const paths = baseModulePaths(parseModelConfig(tinyConfigs.llama));
    assert.equal(paths.length, 2 * 7 + 2);
    assert.ok(paths.includes('model.layers.1.mlp.down_proj'));
  });
});

describe('checkpoints', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'ckpt-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  for (const [family, json] of Object.entries(tinyConfigs)) {
    it(`round-trips a ${family} checkpoint in F32 (single file)`, async () => {
      const config = parseModelConfig(json);
      const weights = randomWeights(config, 7);
      const dir = path.join(root, `single-${family}`);
      await saveCheckpoint(dir, config, weights, { dtype: 'F32' });
      const loaded = await loadCheckpoint(dir);
      assert.deepEqual(loaded.config, config);
      assert.deepEqual([...loaded.weights.keys()], [...weights.keys()]);
      for (const [name, t] of weights) assert.deepEqual(loaded.weights.get(name)!.data, t.data, name);
    });
  }

  it('round-trips a sharded BF16 checkpoint with an index', async () => {
    const config = parseModelConfig(tinyConfigs.qwen2);
    const weights = randomWeights(config, 3);
    const dir = path.join(root, 'sharded');
    await saveCheckpoint(dir, config, weights, { dtype: 'BF16', shardBytes: 400 });
    const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
    assert.ok(files.length > 2, `expected several shards, got ${files.length}`);
    assert.equal(files[0], shardFileName(0, files.length));
    const index = JSON.parse(readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    assert.equal(Object.keys(index.weight_map).length, weights.size);
    assert.equal(JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
    const loaded = await loadCheckpoint(dir);
    for (const [name, t] of weights) {
      const got = loaded.weights.get(name)!.data;
      for (let i = 0; i < t.data.length; i++) assert.ok(Math.abs(got[i] - t.data[i]) <= Math.abs(t.data[i]) * 2 ** -8, name);
    }
    // Re-saving as a single file removes the index so that the new file is what loads.
    await saveCheckpoint(dir, config, weights, { dtype: 'F16' });
    assert.equal(existsSync(path.join(dir, 'model.safetensors.index.json')), false);
    assert.equal((await loadCheckpoint(dir)).config.torchDtype, 'float16');
  });

  it('rejects checkpoints whose weights do not fit the config', async () => {
    const config = parseModelConfig(tinyConfigs.llama);
    const dir = path.join(root, 'bad');
    await saveCheckpoint(dir, config, randomWeights(config, 1), { dtype: 'F32' });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...tinyConfigs.llama, num_hidden_layers: 3 }));
    await assert.rejects(() => loadCheckpoint(dir), /3 layers|missing, e.g. model.layers.2/);
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...tinyConfigs.llama, num_hidden_layers: 1 }));
    await assert.rejects(() => loadCheckpoint(dir), { code: 'CHECKPOINT_INVALID', message: /unexpected tensor "model.layers.1/ });
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...tinyConfigs.llama, intermediate_size: 16 }));
    await assert.rejects(() => loadCheckpoint(dir), { code: 'CHECKPOINT_INVALID', message: /shape \[(12, 8|8, 12)\], config expects \[(16, 8|8, 16)\]/ });
    await assert.rejects(() => loadCheckpoint(path.join(root, 'nothing')), { code: 'MODEL_CONFIG_INVALID' });
  });

  it('refuses to save weights that do not match the config', async () => {
    const config = parseModelConfig(tinyConfigs.llama);
    const weights = randomWeights(config, 1);
    weights.delete('model.norm.weight');
    await assert.rejects(() => saveCheckpoint(path.join(root, 'x'), config, weights, { dtype: 'F32' }), /"model.norm.weight" is missing/);
  });
});
