import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { matmul, maxAbsDiff } from '../linalg/dense';
import type { LoraWeights } from '../lora/adapter';
import { mergeIntoBase } from '../lora/merge';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { randomCheckpoint, randomLora, randomModelConfig } from '../testing/random-model';
import { applyRotaryEmbedding, referenceForward, referenceLoss } from './llama-reference';

const isCode = (code: string) => (e: unknown) => e instanceof PeftCoreError && e.code === code;

function logitsAt(t: HostTensor, b: number, pos: number): Float32Array {
  const [, seq, vocab] = t.shape;
  return t.data.subarray((b * seq + pos) * vocab, (b * seq + pos + 1) * vocab);
}

/** Folds every module of `lora` into a copy of the checkpoint (independent of the forward's LoRA path). */
function mergedCheckpoint(weights: Map<string, HostTensor>, lora: LoraWeights): Map<string, HostTensor> {
  const merged = new Map(weights);
  for (const [path, module] of lora.modules) {
    const w = weights.get(`${path}.weight`)!;
    const data = w.data.slice();
    mergeIntoBase(data, module);
    merged.set(`${path}.weight`, hostTensor(w.shape, data));
  }
  return merged;
}

test('RoPE follows HF rotate-half: x_i cos − x_{i+d/2} sin, x_{i+d/2} cos + x_i sin, inv_freq = θ^(−2i/d)', () => {
  const x = new Float64Array([1, 2, 3, 4]);
  applyRotaryEmbedding(x, 1, 1, 4, [1], 10000);
  const f1 = 1;
  const f2 = 1 / 100; // 10000^(-2/4)
  const expected = [
    1 * Math.cos(f1) - 3 * Math.sin(f1),
    2 * Math.cos(f2) - 4 * Math.sin(f2),
    3 * Math.cos(f1) + 1 * Math.sin(f1),
    4 * Math.cos(f2) + 2 * Math.sin(f2),
  ];
  assert.ok(maxAbsDiff(x, expected) < 1e-15);
});

test('one token through one layer equals a hand-composed forward (attention reduces to o_proj·v_proj)', () => {
  const config = randomModelConfig({ numLayers: 1, attentionBias: true, family: 'qwen2' });
  const w = randomCheckpoint(config, 1);
  const get = (n: string) => w.get(n)!.data;
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const kv = config.numKvHeads * config.headDim;
  const rms = (x: ArrayLike<number>, g: ArrayLike<number>) => {
    const ms = Array.from(x).reduce((s, v) => s + v * v, 0) / x.length;
    return Float64Array.from(x, (v, i) => (v / Math.sqrt(ms + config.rmsNormEps)) * g[i]);
  };
  const lin = (name: string, x: Float64Array, out: number, inF: number) => matmul(get(name), x, out, inF, 1);
  const token = 7;
  const e = Float64Array.from(get('model.embed_tokens.weight').subarray(token * H, (token + 1) * H));
  const n1 = rms(e, get('model.layers.0.input_layernorm.weight'));
  const v = lin('model.layers.0.self_attn.v_proj.weight', n1, kv, H).map((x, i) => x + get('model.layers.0.self_attn.v_proj.bias')[i]);
  // With one position every query head attends only to itself: head h reads kv head floor(h / 2).
  const ctx = new Float64Array(config.numHeads * config.headDim);
  for (let h = 0; h < config.numHeads; h++) {
    const kvh = Math.floor(h / (config.numHeads / config.numKvHeads));
    for (let c = 0; c < config.headDim; c++) ctx[h * config.headDim + c] = v[kvh * config.headDim + c];
  }
  const h1 = lin('model.layers.0.self_attn.o_proj.weight', ctx, H, ctx.length).map((x, i) => x + e[i]);
  const n2 = rms(h1, get('model.layers.0.post_attention_layernorm.weight'));
  const g = lin('model.layers.0.mlp.gate_proj.weight', n2, I, H);
  const u = lin('model.layers.0.mlp.up_proj.weight', n2, I, H);
  const act = g.map((x, i) => (x / (1 + Math.exp(-x))) * u[i]);
  const h2 = lin('model.layers.0.mlp.down_proj.weight', act, H, I).map((x, i) => x + h1[i]);
  const logits = lin('lm_head.weight', rms(h2, get('model.norm.weight')), config.vocabSize, H);
  const got = referenceForward(config, w, [[token]]);
  assert.deepEqual(got.shape, [1, 1, config.vocabSize]);
  assert.ok(maxAbsDiff(got.data, logits) < 1e-5);
});

test('logits are causal: changing token t leaves positions < t unchanged', () => {
  const config = randomModelConfig();
  const w = randomCheckpoint(config, 2);
  const a = referenceForward(config, w, [[3, 5, 7, 9, 11]]);
  const b = referenceForward(config, w, [[3, 5, 7, 20, 11]]);
  for (let t = 0; t < 3; t++) assert.deepEqual(logitsAt(a, 0, t), logitsAt(b, 0, t));
  for (let t = 3; t < 5; t++) assert.ok(maxAbsDiff(logitsAt(a, 0, t), logitsAt(b, 0, t)) > 1e-3);
});

test('logits are informative: not degenerate and not saturated', () => {
  const config = randomModelConfig();
  const out = referenceForward(config, randomCheckpoint(config, 3), [[1, 2, 3, 4, 5, 6]]);
  const l = logitsAt(out, 0, 5);
  const mean = l.reduce((s, x) => s + x, 0) / l.length;
  const std = Math.sqrt(l.reduce((s, x) => s + (x - mean) ** 2, 0) / l.length);
  assert.ok(std > 0.5 && std < 10, `logit std ${std}`);
});

test('shifting every position id by a constant leaves logits unchanged (RoPE is relative)', () => {
  const config = randomModelConfig();
  const w = randomCheckpoint(config, 4);
  const tokens = [[4, 8, 15, 16, 23]];
  const base = referenceForward(config, w, tokens);
  const shifted = referenceForward(config, w, tokens, { positions: [[10, 11, 12, 13, 14]] });
  assert.ok(maxAbsDiff(base.data, shifted.data) < 1e-5);
  const gapped = referenceForward(config, w, tokens, { positions: [[0, 1, 2, 3, 7]] });
  assert.ok(maxAbsDiff(logitsAt(base, 0, 4), logitsAt(gapped, 0, 4)) > 1e-4);
});

test('GQA: query head h reads kv head floor(h / group), as HF repeat_kv', () => {
  const gqa = randomModelConfig({ numHeads: 4, numKvHeads: 2 });
  const mha: ModelConfig = { ...gqa, numKvHeads: 4 };
  const w = randomCheckpoint(gqa, 5);
  const expanded = new Map(w);
  const d = gqa.headDim;
  for (let l = 0; l < gqa.numLayers; l++) {
    for (const m of ['k_proj', 'v_proj']) {
      const name = `model.layers.${l}.self_attn.${m}.weight`;
      const src = w.get(name)!;
      const H = gqa.hiddenSize;
      const data = new Float32Array(4 * d * H);
      for (let h = 0; h < 4; h++) data.set(src.data.subarray(Math.floor(h / 2) * d * H, (Math.floor(h / 2) + 1) * d * H), h * d * H);
      expanded.set(name, hostTensor([4 * d, H], data));
    }
  }
  const tokens = [[1, 9, 4, 30, 2]];
  assert.ok(maxAbsDiff(referenceForward(gqa, w, tokens).data, referenceForward(mha, expanded, tokens).data) < 1e-5);
});

test('tied embeddings use embed_tokens as lm_head; zero q/k/v biases equal no bias', () => {
  const untied = randomModelConfig();
  const w = randomCheckpoint(untied, 6);
  const tied: ModelConfig = { ...untied, tieWordEmbeddings: true };
  const tiedWeights = new Map(w);
  tiedWeights.delete('lm_head.weight');
  const copy = new Map(w);
  copy.set('lm_head.weight', w.get('model.embed_tokens.weight')!);
  const tokens = [[3, 1, 4, 1, 5]];
  assert.deepEqual(referenceForward(tied, tiedWeights, tokens).data, referenceForward(untied, copy, tokens).data);

  const biased: ModelConfig = { ...untied, attentionBias: true };
  const zeroBias = new Map(w);
  for (let l = 0; l < untied.numLayers; l++) {
    zeroBias.set(`model.layers.${l}.self_attn.q_proj.bias`, hostTensor([16]));
    zeroBias.set(`model.layers.${l}.self_attn.k_proj.bias`, hostTensor([8]));
    zeroBias.set(`model.layers.${l}.self_attn.v_proj.bias`, hostTensor([8]));
  }
  assert.deepEqual(referenceForward(biased, zeroBias, tokens).data, referenceForward(untied, w, tokens).data);
  assert.throws(() => referenceForward(biased, w, tokens), /missing model\.layers\.0\.self_attn\.q_proj\.bias/);
});

test('LoRA and DoRA forwards equal the forward of the merged checkpoint; batch rows are independent', () => {
  const config = randomModelConfig();
  const w = randomCheckpoint(config, 7);
  const lora = randomLora(config, { r: 3, alpha: 6, seed: 1, targetModules: ['q_proj', 'v_proj', 'down_proj', 'o_proj'] });
  const dora = randomLora(config, { r: 2, seed: 2, doraBase: w, targetModules: ['k_proj', 'gate_proj', 'up_proj'] });
  const tokens = [[5, 6, 7, 8], [9, 10, 11, 12]];
  const withLora = referenceForward(config, w, tokens, { lora });
  const merged = referenceForward(config, mergedCheckpoint(w, lora), tokens);
  assert.ok(maxAbsDiff(withLora.data, merged.data) < 1e-4);
  const base = referenceForward(config, w, tokens);
  assert.ok(maxAbsDiff(withLora.data, base.data) > 1e-2, 'the adapter changes the logits');

  const withDora = referenceForward(config, w, tokens, { lora: dora });
  assert.ok(maxAbsDiff(withDora.data, referenceForward(config, mergedCheckpoint(w, dora), tokens).data) < 1e-4);

  // Per-row adapters: each row matches its own single-adapter forward.
  const mixed = referenceForward(config, w, tokens, { lora: [lora, undefined] });
  const row1 = referenceForward(config, w, [tokens[1]]);
  assert.deepEqual(mixed.data.subarray(0, 4 * config.vocabSize), withLora.data.subarray(0, 4 * config.vocabSize));
  assert.deepEqual(mixed.data.subarray(4 * config.vocabSize), row1.data);
  assert.throws(() => referenceForward(config, w, tokens, { lora: [lora] }), isCode('SHAPE_MISMATCH'));
});

test('referenceLoss is the mean next-token cross-entropy over masked targets', () => {
  const config = randomModelConfig();
  const w = randomCheckpoint(config, 8);
  const tokens = [[1, 2, 3, 4], [5, 6, 7, 8]];
  const logits = referenceForward(config, w, tokens);
  const ce = (b: number, t: number): number => {
    const row = logitsAt(logits, b, t - 1);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
    return lse - row[tokens[b][t]];
  };
  const all = [ce(0, 1), ce(0, 2), ce(0, 3), ce(1, 1), ce(1, 2), ce(1, 3)];
  assert.ok(Math.abs(referenceLoss(config, w, tokens) - all.reduce((s, x) => s + x, 0) / 6) < 1e-5);
  const mask = [[0, 0, 1, 1], [0, 0, 0, 1]];
  assert.ok(Math.abs(referenceLoss(config, w, tokens, { lossMask: mask }) - (ce(0, 2) + ce(0, 3) + ce(1, 3)) / 3) < 1e-5);
  // A zero lm_head gives uniform predictions: loss = ln(vocab).
  const flat = new Map(w);
  flat.set('lm_head.weight', hostTensor([config.vocabSize, config.hiddenSize]));
  assert.ok(Math.abs(referenceLoss(config, flat, tokens) - Math.log(config.vocabSize)) < 1e-12);
  assert.throws(() => referenceLoss(config, w, tokens, { lossMask: [[0, 0, 0, 0], [1, 0, 0, 0]] }), isCode('INVALID_ARGUMENT'));
});

test('input validation names the problem', () => {
  const config = randomModelConfig();
  const w = randomCheckpoint(config, 9);
  assert.throws(() => referenceForward(config, w, [[1, 2], [3]]), isCode('SHAPE_MISMATCH'));
  assert.throws(() => referenceForward(config, w, [[1, 99]]), /outside the vocabulary/);
  const missing = new Map(w);
  missing.delete('model.layers.1.mlp.up_proj.weight');
  assert.throws(() => referenceForward(config, missing, [[1]]), /missing model\.layers\.1\.mlp\.up_proj\.weight/);
  const wrongLora = randomLora(randomModelConfig({ hiddenSize: 8, headDim: 4, numHeads: 2, numKvHeads: 1 }), { r: 2, seed: 1 });
  assert.throws(() => referenceForward(config, w, [[1]], { lora: wrongLora }), isCode('ADAPTER_INCOMPATIBLE'));
});
