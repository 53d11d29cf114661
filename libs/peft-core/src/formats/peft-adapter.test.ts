import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { LoraModule } from '../lora/adapter';
import { Rng } from '../util/rng';
import { encodeFromFloat32 } from './dtype';
import { parseModelConfig } from './hf-config';
import { linearShape } from './model-modules';
import {
  adapterTensorKey,
  alphaFor,
  createAdapterConfig,
  createPeftAdapter,
  matchesTargetModules,
  parseAdapterConfig,
  parseAdapterTensorKey,
  rankFor,
  readPeftAdapter,
  readPeftAdapterDir,
  scalingFor,
  serializeAdapterConfig,
  validateAdapter,
  writePeftAdapter,
  writePeftAdapterDir,
  type AdapterConfig,
} from './peft-adapter';
import { readSafetensors, writeSafetensors, type NamedRawTensor } from './safetensors';

const base = parseModelConfig({ model_type: 'llama', vocab_size: 32, hidden_size: 8, intermediate_size: 12, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1 });

const q0 = 'model.layers.0.self_attn.q_proj';

describe('parseAdapterConfig', () => {
  it('fills PEFT defaults and keeps unknown keys', () => {
    const c = parseAdapterConfig({ peft_type: 'LORA', target_modules: ['q_proj'], my_key: { nested: 1 } });
    assert.equal(c.r, 8);
    assert.equal(c.loraAlpha, 8);
    assert.equal(c.bias, 'none');
    assert.deepEqual(c.raw.my_key, { nested: 1 });
    assert.deepEqual(JSON.parse(serializeAdapterConfig(c)).my_key, { nested: 1 });
  });
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['peft_type missing', { r: 8 }, /"peft_type" is required/],
    ['peft_type not LORA', { peft_type: 'IA3' }, /"peft_type" must be "LORA"/],
    ['r zero', { peft_type: 'LORA', r: 0 }, /"r" must be a positive integer/],
    ['r fractional', { peft_type: 'LORA', r: 1.5 }, /"r" must be a positive integer/],
    ['alpha string', { peft_type: 'LORA', lora_alpha: '16' }, /"lora_alpha" must be a number/],
    ['target_modules number', { peft_type: 'LORA', target_modules: 3 }, /"target_modules" must be a list of strings/],
    ['target_modules bad regex', { peft_type: 'LORA', target_modules: '(' }, /"target_modules" holds a pattern that does not compile/],
    ['bias enum', { peft_type: 'LORA', bias: 'some' }, /"bias" must be "none", "all" or "lora_only"/],
    ['dropout out of range', { peft_type: 'LORA', lora_dropout: 1.5 }, /"lora_dropout" must be a number in \[0, 1\)/],
    ['use_rslora string', { peft_type: 'LORA', use_rslora: 'true' }, /"use_rslora" must be a boolean/],
    ['rank_pattern value', { peft_type: 'LORA', rank_pattern: { q_proj: 'x' } }, /"rank_pattern" entry "q_proj" must be a number/],
    ['rank_pattern not positive', { peft_type: 'LORA', rank_pattern: { q_proj: 0 } }, /"rank_pattern" entry "q_proj" must be a positive integer/],
    ['alpha_pattern array', { peft_type: 'LORA', alpha_pattern: [1] }, /"alpha_pattern" must be an object of numbers/],
    ['layers_to_transform negative', { peft_type: 'LORA', layers_to_transform: [-1] }, /"layers_to_transform" must be a non-negative integer/],
    ['modules_to_save string', { peft_type: 'LORA', modules_to_save: 'lm_head' }, /"modules_to_save" must be a list of strings/],
  ];
  for (const [name, json, message] of bad) {
    it(`rejects ${name}`, () => assert.throws(() => parseAdapterConfig(json), (e: Error & { code?: string }) => e.code === 'ADAPTER_CONFIG_INVALID' && message.test(e.message)));
  }
  it('re-serialises a config as PEFT writes it (sorted keys, indent 2) byte for byte', () => {
    const peftWritten = JSON.stringify(
      {
        alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: 'HuggingFaceTB/SmolLM2-135M', bias: 'none', eva_config: null,
        exclude_modules: null, fan_in_fan_out: false, inference_mode: true, init_lora_weights: true, layer_replication: null,
        layers_pattern: null, layers_to_transform: null, loftq_config: {}, lora_alpha: 32, lora_bias: false, lora_dropout: 0.05,
        megatron_config: null, megatron_core: 'megatron.core', modules_to_save: null, peft_type: 'LORA', r: 16, rank_pattern: {},
        revision: null, target_modules: ['v_proj', 'q_proj'], task_type: 'CAUSAL_LM', use_dora: false, use_rslora: false,
      },
      null,
      2,
    ) + '\n';
    const c = parseAdapterConfig(JSON.parse(peftWritten));
    assert.equal(c.r, 16);
    assert.equal(scalingFor(c, q0), 2);
    assert.equal(serializeAdapterConfig(c), peftWritten);
  });
  it('serialises with sorted keys and 2-space indent, writing changed fields over raw', () => {
    const c = parseAdapterConfig({ r: 4, peft_type: 'LORA', layers_to_transform: 1, zz: true });
    const text = serializeAdapterConfig(c);
    assert.equal(text, '{\n  "layers_to_transform": 1,\n  "peft_type": "LORA",\n  "r": 4,\n  "zz": true\n}\n');
    const changed: AdapterConfig = { ...c, r: 16, layersToTransform: [0, 1] };
    assert.deepEqual(JSON.parse(serializeAdapterConfig(changed)), { layers_to_transform: [0, 1], peft_type: 'LORA', r: 16, zz: true });
  });
});

describe('module matching, ranks and scaling', () => {
  const cases: Array<[string, Record<string, unknown>, string, boolean]> = [
    ['list exact name suffix', { target_modules: ['q_proj', 'v_proj'] }, q0, true],
    ['list does not match other modules', { target_modules: ['q_proj'] }, 'model.layers.0.self_attn.k_proj', false],
    ['list suffix must be dotted', { target_modules: ['proj'] }, q0, false],
    ['list full path', { target_modules: [q0] }, q0, true],
    ['regex full match', { target_modules: '.*\\.(q|v)_proj' }, q0, true],
    ['regex must match whole path', { target_modules: 'q_proj' }, q0, false],
    ['all-linear includes mlp', { target_modules: 'all-linear' }, 'model.layers.1.mlp.down_proj', true],
    ['all-linear excludes lm_head', { target_modules: 'all-linear' }, 'lm_head', false],
    ['layers_to_transform keeps listed layer', { target_modules: ['q_proj'], layers_to_transform: [0] }, q0, true],
    ['layers_to_transform drops other layers', { target_modules: ['q_proj'], layers_to_transform: 1 }, q0, false],
    ['layers_pattern', { target_modules: ['q_proj'], layers_to_transform: [0], layers_pattern: 'layers' }, q0, true],
    ['layers_pattern that does not occur', { target_modules: ['q_proj'], layers_to_transform: [0], layers_pattern: 'h' }, q0, false],
    ['exclude_modules', { target_modules: 'all-linear', exclude_modules: ['q_proj'] }, q0, false],
    ['no target_modules', {}, q0, false],
  ];
  for (const [name, fields, modulePath, expected] of cases) {
    it(name, () => assert.equal(matchesTargetModules(createAdapterConfig(fields), modulePath), expected));
  }
  it('applies rank and alpha patterns (first match wins) and rsLoRA', () => {
    const c = createAdapterConfig({ r: 8, lora_alpha: 16, rank_pattern: { 'layers.0.self_attn.q_proj': 4, q_proj: 2 }, alpha_pattern: { 'mlp\\..*': 32 } });
    assert.equal(rankFor(c, q0), 4);
    assert.equal(rankFor(c, 'model.layers.1.self_attn.q_proj'), 2);
    assert.equal(rankFor(c, 'model.layers.1.self_attn.k_proj'), 8);
    assert.equal(alphaFor(c, 'model.layers.1.mlp.up_proj'), 32);
    assert.equal(scalingFor(c, q0), 4);
    assert.equal(scalingFor({ ...c, useRslora: true }, q0), 8);
    assert.equal(rankFor(createAdapterConfig({ rank_pattern: { proj: 3 } }), q0), 8, 'pattern must match a whole dotted component');
  });
});

describe('tensor keys', () => {
  const keys: Array<[string, ReturnType<typeof parseAdapterTensorKey>]> = [
    [`base_model.model.${q0}.lora_A.weight`, { modulePath: q0, kind: 'lora_A' }],
    [`base_model.model.${q0}.lora_B.weight`, { modulePath: q0, kind: 'lora_B' }],
    [`base_model.model.${q0}.lora_magnitude_vector`, { modulePath: q0, kind: 'lora_magnitude_vector' }],
    [`base_model.model.${q0}.lora_magnitude_vector.weight`, { modulePath: q0, kind: 'lora_magnitude_vector' }],
    ['base_model.model.model.embed_tokens.lora_embedding_A', { modulePath: 'model.embed_tokens', kind: 'lora_embedding_A' }],
    ['base_model.model.lm_head.weight', { modulePath: 'lm_head', kind: 'weight' }],
    [`base_model.model.${q0}.bias`, { modulePath: q0, kind: 'bias' }],
    [`${q0}.lora_A.weight`, null],
    [`base_model.model.${q0}.lora_A.default.weight`, null],
    [`base_model.model.${q0}.lora_C.weight`, null],
  ];
  for (const [key, expected] of keys) {
    it(key, () => {
      assert.deepEqual(parseAdapterTensorKey(key), expected);
      if (expected) assert.equal(parseAdapterTensorKey(adapterTensorKey(expected.modulePath, expected.kind))?.modulePath, expected.modulePath);
    });
  }
});

function module(rng: Rng, modulePath: string, r: number, scaling: number): LoraModule {
  const [out, inDim] = linearShape(base, modulePath);
  const rand = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  return { path: modulePath, A: { shape: [r, inDim], data: rand(r * inDim) }, B: { shape: [out, r], data: rand(out * r) }, scaling };
}

function tensor(name: string, shape: number[], dtype: NamedRawTensor['dtype'] = 'F32'): NamedRawTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, dtype, shape, data: dtype === 'F32' ? encodeFromFloat32('F32', new Float32Array(n)) : new Uint8Array(n * 4) };
}

describe('validateAdapter', () => {
  const config = createAdapterConfig({ r: 2, lora_alpha: 4, target_modules: ['q_proj', 'down_proj'], rank_pattern: { down_proj: 3 } });
  const good = (): NamedRawTensor[] => [
    tensor(`base_model.model.${q0}.lora_A.weight`, [2, 8]),
    tensor(`base_model.model.${q0}.lora_B.weight`, [8, 2]),
    tensor('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight', [3, 12]),
    tensor('base_model.model.model.layers.1.mlp.down_proj.lora_B.weight', [8, 3]),
  ];
  const headerOf = (tensors: NamedRawTensor[]) => readSafetensors(writeSafetensors(tensors)).header;
  it('accepts a consistent adapter', () => validateAdapter(config, headerOf(good()), base));

  const replace = (from: string, t: NamedRawTensor): NamedRawTensor[] => good().map((g) => (g.name === from ? t : g));
  const qa = `base_model.model.${q0}.lora_A.weight`;
  const cases: Array<[string, AdapterConfig, NamedRawTensor[], string, RegExp]> = [
    ['A rank differs from r', config, replace(qa, tensor(qa, [4, 8])), 'ADAPTER_TENSORS_INVALID', /q_proj.lora_A.weight: shape \[4, 8\] has rank 4, config says r = 2/],
    ['A in-dim differs from base', config, replace(qa, tensor(qa, [2, 9])), 'ADAPTER_INCOMPATIBLE', /q_proj.lora_A.weight: .*in-features is 8/],
    ['B out-dim differs from base', config, replace(`base_model.model.${q0}.lora_B.weight`, tensor(`base_model.model.${q0}.lora_B.weight`, [4, 2])), 'ADAPTER_INCOMPATIBLE', /lora_B.weight: .*out-features is 8/],
    ['rank_pattern ignored by tensors', config, replace('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight', tensor('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight', [2, 12])), 'ADAPTER_TENSORS_INVALID', /down_proj.lora_A.weight: .*r = 3/],
    ['layer beyond the base', createAdapterConfig({ r: 2, target_modules: ['q_proj'] }), [tensor('base_model.model.model.layers.5.self_attn.q_proj.lora_A.weight', [2, 8]), tensor('base_model.model.model.layers.5.self_attn.q_proj.lora_B.weight', [8, 2])], 'ADAPTER_INCOMPATIBLE', /layers.5.*layer 5 does not exist, the base model has 2 layers/],
    ['module not in base', createAdapterConfig({ r: 2, target_modules: ['c_attn', 'q_proj'] }), [tensor('base_model.model.transformer.h.0.c_attn.lora_A.weight', [2, 8]), tensor('base_model.model.transformer.h.0.c_attn.lora_B.weight', [8, 2])], 'ADAPTER_INCOMPATIBLE', /c_attn does not exist/],
    ['A without B', config, good().slice(0, 1), 'ADAPTER_TENSORS_INVALID', /q_proj.lora_A.weight: lora_A present without lora_B/],
    ['B without A', config, good().slice(1, 2), 'ADAPTER_TENSORS_INVALID', /q_proj.lora_B.weight: lora_B present without lora_A/],
    ['target module matching nothing', createAdapterConfig({ r: 2, target_modules: ['q_proj', 'c_fc'] }), good().slice(0, 2), 'ADAPTER_INCOMPATIBLE', /target_modules entry "c_fc" matches no module/],
    ['tensor of an untargeted module', createAdapterConfig({ r: 2, target_modules: ['q_proj'] }), good(), 'ADAPTER_TENSORS_INVALID', /down_proj is not selected/],
    ['unknown key pattern', config, [...good(), tensor('base_model.model.extra.lora_C.weight', [1])], 'ADAPTER_TENSORS_INVALID', /extra.lora_C.weight: not a PEFT LoRA tensor key/],
    ['integer dtype', config, [...good().slice(1), tensor(qa, [2, 8], 'I32')], 'ADAPTER_TENSORS_INVALID', /lora_A.weight: dtype I32 is not a float type/],
    ['DoRA magnitude without use_dora', config, [...good(), tensor(`base_model.model.${q0}.lora_magnitude_vector`, [8])], 'ADAPTER_TENSORS_INVALID', /use_dora is false/],
    ['full weight not in modules_to_save', config, [...good(), tensor('base_model.model.lm_head.weight', [32, 8])], 'ADAPTER_TENSORS_INVALID', /lm_head.weight: full weight/],
    ['modules_to_save weight of the wrong shape', createAdapterConfig({ r: 2, lora_alpha: 4, target_modules: ['q_proj', 'down_proj'], rank_pattern: { down_proj: 3 }, modules_to_save: ['lm_head'] }), [...good(), tensor('base_model.model.lm_head.weight', [31, 8])], 'ADAPTER_INCOMPATIBLE', /lm_head.weight: shape \[31, 8\]/],
  ];
  for (const [name, cfg, tensors, code, message] of cases) {
    it(`rejects ${name}`, () => {
      assert.throws(() => validateAdapter(cfg, headerOf(tensors), base), (e: Error & { code?: string }) => {
        assert.equal(e.code, code, e.message);
        assert.match(e.message, message);
        return true;
      });
    });
  }
  it('accepts DoRA, embedding LoRA and modules_to_save when configured', () => {
    const cfg = createAdapterConfig({ r: 2, target_modules: ['q_proj', 'embed_tokens'], use_dora: true, modules_to_save: ['lm_head'] });
    const tensors = [
      ...good().slice(0, 2),
      tensor(`base_model.model.${q0}.lora_magnitude_vector`, [8]),
      tensor('base_model.model.model.embed_tokens.lora_embedding_A', [2, 32]),
      tensor('base_model.model.model.embed_tokens.lora_embedding_B', [8, 2]),
      tensor('base_model.model.lm_head.weight', [32, 8]),
    ];
    validateAdapter(cfg, headerOf(tensors), base);
    const adapter = readPeftAdapter({ configJson: serializeAdapterConfig(cfg), safetensors: writeSafetensors(tensors, { format: 'pt' }) }, base);
    assert.deepEqual(adapter.weights.modules.get(q0)?.magnitude?.shape, [8]);
    assert.deepEqual(adapter.embeddings.get('model.embed_tokens')?.B.shape, [8, 2]);
    assert.ok(adapter.fullTensors.has('base_model.model.lm_head.weight'));
  });
});

describe('reading and writing adapters', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'peft-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const rng = new Rng(11);
  const config = createAdapterConfig({ r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'up_proj'], rank_pattern: { up_proj: 2 }, base_model_name_or_path: 'tiny', custom_field: [1, 2] });
  const modules = new Map<string, LoraModule>();
  for (let layer = 0; layer < 2; layer++) {
    for (const [name, parent] of [['q_proj', 'self_attn'], ['v_proj', 'self_attn'], ['up_proj', 'mlp']] as const) {
      const p = `model.layers.${layer}.${parent}.${name}`;
      modules.set(p, module(rng, p, rankFor(config, p), scalingFor(config, p)));
    }
  }

  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`writes, reads and re-writes byte-identically (${dtype})`, async () => {
      const adapter = createPeftAdapter(config, { modules }, { dtype, base });
      const files = writePeftAdapter(adapter);
      const read = readPeftAdapter(files, base);
      const again = writePeftAdapter(read);
      assert.equal(again.configJson, files.configJson);
      assert.deepEqual(again.safetensors, files.safetensors);
      assert.equal(read.weights.modules.size, 6);
      assert.equal(read.weights.modules.get('model.layers.1.mlp.up_proj')?.scaling, 4);
      assert.equal(read.weights.modules.get(q0)?.scaling, 2);
      assert.deepEqual(readSafetensors(files.safetensors).metadata, { format: 'pt' });
      const sub = path.join(dir, dtype);
      await writePeftAdapterDir(sub, read);
      const fromDir = await readPeftAdapterDir(sub, base);
      assert.deepEqual(writePeftAdapter(fromDir).safetensors, files.safetensors);
      if (dtype === 'F32') assert.deepEqual(fromDir.weights.modules.get(q0)?.A.data, modules.get(q0)?.A.data);
      assert.deepEqual(JSON.parse(fromDir.config.raw.custom_field === undefined ? 'null' : JSON.stringify(fromDir.config.raw.custom_field)), [1, 2]);
    });
  }
  it('refuses weights whose scaling disagrees with the config', () => {
    const wrong = new Map([[q0, { ...modules.get(q0)!, scaling: 1 }]]);
    assert.throws(() => createPeftAdapter(config, { modules: wrong }), { code: 'ADAPTER_CONFIG_INVALID' });
  });
  it('names the missing file in a directory', async () => {
    await assert.rejects(() => readPeftAdapterDir(path.join(dir, 'none')), /adapter_config.json/);
  });
});
