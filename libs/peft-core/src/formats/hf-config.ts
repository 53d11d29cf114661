/**
 * Hugging Face config.json for Llama-family decoders (llama, mistral, qwen2; SmolLM uses
 * model_type "llama"): parsing into ModelConfig, writing back, parameter counts and the
 * expected weight names and shapes.
 */
import { PeftCoreError } from '../errors';
import { LINEAR_MODULES, type ModelConfig } from './model-config';
import { layerModulePath, linearShape } from './model-modules';

export const SUPPORTED_FAMILIES = ['llama', 'mistral', 'qwen2'] as const;
export type ModelFamily = (typeof SUPPORTED_FAMILIES)[number];

const ARCHITECTURES: Record<ModelFamily, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
};

function fail(message: string): PeftCoreError {
  return new PeftCoreError('MODEL_CONFIG_INVALID', `config.json: ${message}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInt(json: Record<string, unknown>, key: string, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (value === undefined) throw fail(`"${key}" is required`);
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw fail(`"${key}" must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveNumber(json: Record<string, unknown>, key: string, fallback: number): number {
  const value = json[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw fail(`"${key}" must be a positive number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function optionalBoolean(json: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const value = json[key] ?? fallback;
  if (typeof value !== 'boolean') throw fail(`"${key}" must be a boolean, got ${JSON.stringify(value)}`);
  return value;
}

function optionalTokenId(json: Record<string, unknown>, key: string): number | number[] | undefined {
  const value = json[key];
  if (value === undefined || value === null) return undefined;
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (ok(value)) return value;
  if (Array.isArray(value) && value.length > 0 && value.every(ok)) return value as number[];
  throw fail(`"${key}" must be a token id or a list of token ids, got ${JSON.stringify(value)}`);
}

/** Parses a Llama-family config.json object into a ModelConfig, naming the first bad field. */
export function parseModelConfig(json: unknown): ModelConfig {
  if (!isRecord(json)) throw fail('must be a JSON object');
  const modelType = json.model_type;
  if (typeof modelType !== 'string') throw fail('"model_type" is required');
  if (!(SUPPORTED_FAMILIES as readonly string[]).includes(modelType)) {
    throw fail(`model_type "${modelType}" is not supported (supported: ${SUPPORTED_FAMILIES.join(', ')})`);
  }
  const family = modelType as ModelFamily;
  const hiddenSize = positiveInt(json, 'hidden_size');
  const numHeads = positiveInt(json, 'num_attention_heads');
  const numKvHeads = positiveInt(json, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw fail(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  if (json.head_dim === undefined || json.head_dim === null) {
    if (hiddenSize % numHeads !== 0) {
      throw fail(`hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numHeads}) and no head_dim is given`);
    }
  }
  const headDim = positiveInt(json, 'head_dim', hiddenSize / numHeads);
  if (headDim % 2 !== 0) throw fail(`head_dim ${headDim} must be even for rotary embeddings`);

  // Qwen2 always has q/k/v biases. Llama's attention_bias also puts a bias on o_proj, which
  // ModelConfig cannot express, so it is refused rather than loaded wrong.
  const attentionBias = family === 'qwen2' ? true : optionalBoolean(json, 'attention_bias', false);
  if (family !== 'qwen2' && attentionBias) {
    throw new PeftCoreError('UNSUPPORTED', `config.json: attention_bias=true on ${family} (bias on o_proj) is not supported`);
  }
  if (optionalBoolean(json, 'mlp_bias', false)) throw new PeftCoreError('UNSUPPORTED', 'config.json: mlp_bias=true is not supported');
  const hiddenAct = json.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') throw new PeftCoreError('UNSUPPORTED', `config.json: hidden_act "${String(hiddenAct)}" is not supported (only silu)`);

  const ropeScaling = json.rope_scaling;
  if (ropeScaling !== undefined && ropeScaling !== null && !isRecord(ropeScaling)) {
    throw fail(`"rope_scaling" must be an object or null, got ${JSON.stringify(ropeScaling)}`);
  }
  const dtype = json.torch_dtype ?? json.dtype ?? 'float32';
  if (typeof dtype !== 'string') throw fail(`"torch_dtype" must be a string, got ${JSON.stringify(dtype)}`);

  const bosTokenId = optionalTokenId(json, 'bos_token_id');
  if (Array.isArray(bosTokenId)) throw fail('"bos_token_id" must be a single token id');
  const eosTokenId = optionalTokenId(json, 'eos_token_id');
  return {
    family,
    vocabSize: positiveInt(json, 'vocab_size'),
    hiddenSize,
    intermediateSize: positiveInt(json, 'intermediate_size'),
    numLayers: positiveInt(json, 'num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: positiveNumber(json, 'rms_norm_eps', 1e-6),
    ropeTheta: positiveNumber(json, 'rope_theta', 10000),
    maxPositionEmbeddings: positiveInt(json, 'max_position_embeddings', 2048),
    tieWordEmbeddings: optionalBoolean(json, 'tie_word_embeddings', false),
    attentionBias,
    ...(bosTokenId !== undefined ? { bosTokenId } : {}),
    ...(eosTokenId !== undefined ? { eosTokenId } : {}),
    torchDtype: dtype,
    ...(isRecord(ropeScaling) ? { ropeScaling: { ...ropeScaling } } : {}),
  };
}

/** A config.json object Hugging Face transformers loads, with keys in a stable order. */
export function modelConfigToJson(config: ModelConfig): Record<string, unknown> {
  const family = config.family as ModelFamily;
  if (!(SUPPORTED_FAMILIES as readonly string[]).includes(family)) throw fail(`model_type "${config.family}" is not supported`);
  const json: Record<string, unknown> = {
    architectures: [ARCHITECTURES[family]],
    model_type: family,
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    hidden_act: 'silu',
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: config.ropeScaling ?? null,
    tie_word_embeddings: config.tieWordEmbeddings,
    torch_dtype: config.torchDtype,
  };
  if (family === 'llama') {
    json.attention_bias = false;
    json.mlp_bias = false;
  }
  if (config.bosTokenId !== undefined) json.bos_token_id = config.bosTokenId;
  if (config.eosTokenId !== undefined) json.eos_token_id = config.eosTokenId;
  return json;
}

export interface ArchitectureSummary {
  readonly family: string;
  readonly layers: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly vocabSize: number;
  /** Total parameter count, biases included, lm_head counted only when not tied. */
  readonly parameters: number;
  readonly dtype: string;
  readonly tiedEmbeddings: boolean;
  readonly contextLength: number;
}

export function architectureSummary(config: ModelConfig): ArchitectureSummary {
  let parameters = 0;
  for (const shape of expectedWeightShapes(config).values()) parameters += shape.reduce((a, b) => a * b, 1);
  return {
    family: config.family,
    layers: config.numLayers,
    hiddenSize: config.hiddenSize,
    intermediateSize: config.intermediateSize,
    heads: config.numHeads,
    kvHeads: config.numKvHeads,
    headDim: config.headDim,
    vocabSize: config.vocabSize,
    parameters,
    dtype: config.torchDtype,
    tiedEmbeddings: config.tieWordEmbeddings,
    contextLength: config.maxPositionEmbeddings,
  };
}

/** Every weight a HF checkpoint of this config holds, by name, in model order. */
export function expectedWeightShapes(config: ModelConfig): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [config.vocabSize, config.hiddenSize]);
  for (let layer = 0; layer < config.numLayers; layer++) {
    shapes.set(`model.layers.${layer}.input_layernorm.weight`, [config.hiddenSize]);
    for (const name of LINEAR_MODULES) {
      const path = layerModulePath(layer, name);
      const shape = linearShape(config, name);
      shapes.set(`${path}.weight`, [...shape]);
      if (config.attentionBias && (name === 'q_proj' || name === 'k_proj' || name === 'v_proj')) {
        shapes.set(`${path}.bias`, [shape[0]]);
      }
    }
    shapes.set(`model.layers.${layer}.post_attention_layernorm.weight`, [config.hiddenSize]);
  }
  shapes.set('model.norm.weight', [config.hiddenSize]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [config.vocabSize, config.hiddenSize]);
  return shapes;
}
