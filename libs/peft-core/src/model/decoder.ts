import { PeftCoreError } from '../errors';
import { LINEAR_MODULES, type LinearModule, type ModelConfig } from '../formats/model-config';
import { layerModulePath, linearShape } from '../formats/model-modules';
import { mulDims } from '../graph/dims';
import type { Graph } from '../graph/graph';
import * as nn from '../graph/nn';
import { tensorData } from '../graph/tensor-data';
import type { Value } from '../graph/value';
import { type DecoderParams, requireParam } from './decoder-params';
import type { DecoderInputs, KvPair } from './decoder-inputs';
import type { LinearSite, LoraWiring } from './lora-wiring';

/**
 * Added to attention scores that must not be attended. Finite (not −inf) so a query whose keys are
 * all masked (a padding position) softmaxes to a uniform row instead of NaN; its output is unused.
 */
const MASKED_SCORE = -1e9;

export interface DecoderOptions {
  /** 'all' → logits [batch, seq, vocab]; 'last' → [batch, 1, vocab], for generation. Default 'all'. */
  readonly logits?: 'all' | 'last';
}

export interface DecoderOutputs {
  /** [batch, seq, vocab] or [batch, 1, vocab] with logits: 'last'. */
  readonly logits: Value;
  /** Final-normed hidden state [batch, seq, hidden] (what lm_head reads). */
  readonly hidden: Value;
  /** Per layer, this step's keys (after RoPE) and values, [seq, batch, kvHeads, headDim]. */
  readonly newKv: readonly KvPair[];
  /** Per layer, past ++ new along axis 0: [past + seq, batch, kvHeads, headDim]. */
  readonly presentKv: readonly KvPair[];
}

/**
 * The Llama-family decoder (Llama, Mistral, Qwen2, SmolLM) as graph nodes, following Hugging
 * Face's modeling_llama: embedding → L × (RMSNorm → GQA attention with RoPE → residual → RMSNorm →
 * SwiGLU MLP → residual) → RMSNorm → lm_head (or the tied embedding). Every linear goes through
 * the LoRA wiring, when one is given.
 */
export function buildDecoderForward(
  g: Graph,
  config: ModelConfig,
  params: DecoderParams,
  inputs: DecoderInputs,
  lora?: LoraWiring,
  options: DecoderOptions = {},
): DecoderOutputs {
  checkConfig(config);
  checkInputs(config, inputs);
  const H = config.hiddenSize;
  const embed = requireParam(params, 'model.embed_tokens.weight', [config.vocabSize, H]);
  const rope = ropeTables(g, config, inputs.positions);
  const mask = attentionMask(g, inputs);

  let h = g.gather(embed, inputs.tokens); // [batch, seq, hidden]
  const newKv: KvPair[] = [];
  const presentKv: KvPair[] = [];
  for (let l = 0; l < config.numLayers; l++) {
    const prefix = `model.layers.${l}`;
    const linear = (module: LinearModule, x: Value): Value => adaptedLinear(g, config, params, l, module, x, lora);
    const n1 = nn.rmsNorm(g, h, requireParam(params, `${prefix}.input_layernorm.weight`, [H]), config.rmsNormEps);
    const attn = selfAttention(g, config, n1, linear, rope, mask, inputs.pastKv?.[l]);
    newKv.push(attn.newKv);
    presentKv.push(attn.presentKv);
    h = g.add(h, attn.output);
    const n2 = nn.rmsNorm(g, h, requireParam(params, `${prefix}.post_attention_layernorm.weight`, [H]), config.rmsNormEps);
    h = g.add(h, linear('down_proj', nn.swiglu(g, linear('gate_proj', n2), linear('up_proj', n2))));
    if (lora?.afterLayer) h = lora.afterLayer(g, l, h);
  }
  const hidden = nn.rmsNorm(g, h, requireParam(params, 'model.norm.weight', [H]), config.rmsNormEps);
  const head = config.tieWordEmbeddings ? embed : requireParam(params, 'lm_head.weight', [config.vocabSize, H]);
  const headInput = options.logits === 'last' ? g.slice(hidden, 1, -1) : hidden;
  return { logits: nn.linear(g, headInput, head), hidden, newKv, presentKv };
}

/** y = x·Wᵀ (+ b for q/k/v with attention bias), then the LoRA wiring's contribution. */
function adaptedLinear(g: Graph, config: ModelConfig, params: DecoderParams, layer: number, module: LinearModule, x: Value, lora: LoraWiring | undefined): Value {
  const path = layerModulePath(layer, module);
  const [outFeatures, inFeatures] = linearShape(config, module);
  const weight = requireParam(params, `${path}.weight`, [outFeatures, inFeatures]);
  const hasBias = config.attentionBias && (module === 'q_proj' || module === 'k_proj' || module === 'v_proj');
  const y = nn.linear(g, x, weight, hasBias ? requireParam(params, `${path}.bias`, [outFeatures]) : undefined);
  if (!lora) return y;
  const site: LinearSite = { path, layer, module, inFeatures, outFeatures };
  return lora.adaptLinear(g, site, x, y);
}

interface RopeTables {
  /** [batch, seq, headDim], float32. */
  readonly cos: Value;
  readonly sin: Value;
}

/**
 * cos/sin of HF rotate-half RoPE: angle[b, t, i] = position · θ^(−2i/d) for i < d/2, repeated for
 * the second half. Angles are computed in float64 (positions reach thousands; float32 angles lose
 * ~1e-4 there), then cast to float32.
 */
function ropeTables(g: Graph, config: ModelConfig, positions: Value): RopeTables {
  const half = config.headDim / 2;
  const invFreq = Array.from({ length: config.headDim }, (_, i) => 1 / Math.pow(config.ropeTheta, (2 * (i % half)) / config.headDim));
  const freq = g.constant(tensorData('float64', [config.headDim], invFreq));
  const angle = g.mul(g.unsqueeze(g.cast(positions, 'float64'), [2]), freq); // [batch, seq, headDim]
  return { cos: g.cast(g.cos(angle), 'float32'), sin: g.cast(g.sin(angle), 'float32') };
}

/**
 * Additive mask [seq, keys] (causal only) or [batch, 1, 1, seq, keys] (with padding), laid out to
 * broadcast against grouped scores [batch, kvHeads, groups, seq, keys].
 */
function attentionMask(g: Graph, inputs: DecoderInputs): Value {
  const keySlots = inputs.keySlots ?? inputs.querySlots;
  const future = g.greater(g.unsqueeze(keySlots, [0]), g.unsqueeze(inputs.querySlots, [1])); // [seq, keys]
  const causal = g.mul(g.cast(future, 'float32'), MASKED_SCORE);
  if (!inputs.keyPadding) return causal;
  const padded = g.mul(g.cast(g.equal(inputs.keyPadding, 0), 'float32'), MASKED_SCORE); // [batch, keys]
  return g.add(g.unsqueeze(padded, [1, 2, 3]), causal);
}

interface AttentionResult {
  readonly output: Value;
  readonly newKv: KvPair;
  readonly presentKv: KvPair;
}

/**
 * Grouped-query attention without materialising repeated KV heads: the query heads that share a
 * KV head are folded into the query-length axis, [batch, kvHeads, groups·seq, headDim], so each
 * KV head is read once (HF repeat_kv: query head h uses KV head ⌊h / groups⌋).
 */
function selfAttention(
  g: Graph,
  config: ModelConfig,
  x: Value,
  linear: (module: LinearModule, x: Value) => Value,
  rope: RopeTables,
  mask: Value,
  past: KvPair | undefined,
): AttentionResult {
  const [batch, seq] = x.shape as [number | string, number | string];
  const d = config.headDim;
  const nKv = config.numKvHeads;
  const groups = config.numHeads / nKv;
  const split = (v: Value, heads: number): Value => g.reshape(v, [batch, seq, heads, d]); // [batch, seq, heads, d]
  const cos = g.unsqueeze(rope.cos, [2]); // [batch, seq, 1, d]
  const sin = g.unsqueeze(rope.sin, [2]);

  const q = nn.applyRope(g, split(linear('q_proj', x), config.numHeads), cos, sin);
  const k = nn.applyRope(g, split(linear('k_proj', x), nKv), cos, sin);
  const v = split(linear('v_proj', x), nKv);
  const seqMajor = [1, 0, 2, 3]; // [batch, seq, h, d] ↔ [seq, batch, h, d]
  const newKv: KvPair = { key: g.transpose(k, seqMajor), value: g.transpose(v, seqMajor) };
  const presentKv: KvPair = past
    ? { key: g.concat([past.key, newKv.key], 0), value: g.concat([past.value, newKv.value], 0) }
    : newKv;
  // [slots, batch, kvHeads, d] → [batch, kvHeads, slots, d]; [batch, seq, kvHeads, d] → same when there is no past.
  const keys = past ? g.transpose(presentKv.key, [1, 2, 0, 3]) : g.transpose(k, [0, 2, 1, 3]);
  const values = past ? g.transpose(presentKv.value, [1, 2, 0, 3]) : g.transpose(v, [0, 2, 1, 3]);

  const scaledQ = g.mul(g.transpose(q, [0, 2, 1, 3]), 1 / Math.sqrt(d)); // [batch, heads, seq, d]
  const groupedSeq = mulDims(groups, seq);
  const groupedQ = g.reshape(scaledQ, [batch, nKv, groupedSeq, d]); // [batch, kvHeads, groups·seq, d]
  const scores = g.matmul(groupedQ, keys, { transB: true }); // [batch, kvHeads, groups·seq, keys]
  const keyCount = keys.shape[2]!;
  const masked = g.add(g.reshape(scores, [batch, nKv, groups, seq, keyCount]), mask);
  const probs = g.reshape(g.softmax(masked, -1), [batch, nKv, groupedSeq, keyCount]);
  const context = g.reshape(g.matmul(probs, values), [batch, config.numHeads, seq, d]);
  const merged = g.reshape(g.transpose(context, [0, 2, 1, 3]), [batch, seq, config.numHeads * d]);
  return { output: linear('o_proj', merged), newKv, presentKv };
}

function checkConfig(config: ModelConfig): void {
  const bad = (message: string): PeftCoreError => new PeftCoreError('MODEL_CONFIG_INVALID', message);
  if (config.numHeads % config.numKvHeads !== 0) throw bad(`num_attention_heads ${config.numHeads} is not a multiple of num_key_value_heads ${config.numKvHeads}`);
  if (config.headDim % 2 !== 0) throw bad(`head_dim ${config.headDim} must be even for RoPE`);
  if (config.ropeScaling !== undefined) {
    throw new PeftCoreError('UNSUPPORTED', `rope_scaling ${JSON.stringify(config.ropeScaling)} is not implemented; only plain RoPE is`);
  }
}

function checkInputs(config: ModelConfig, inputs: DecoderInputs): void {
  const bad = (message: string): PeftCoreError => new PeftCoreError('SHAPE_MISMATCH', `decoder inputs: ${message}`);
  if (inputs.tokens.rank !== 2 || inputs.tokens.dtype !== 'int64') throw bad(`tokens must be int64 [batch, seq], got ${inputs.tokens.dtype} [${inputs.tokens.shape.join(', ')}]`);
  if (inputs.positions.rank !== 2 || inputs.positions.dtype !== 'int64') throw bad('positions must be int64 [batch, seq]');
  if (inputs.querySlots.rank !== 1 || inputs.querySlots.dtype !== 'int64') throw bad('querySlots must be int64 [seq]');
  if (inputs.pastKv !== undefined) {
    if (inputs.keySlots === undefined) throw bad('keySlots is required with pastKv');
    if (inputs.pastKv.length !== config.numLayers) throw bad(`pastKv has ${inputs.pastKv.length} layers, the model has ${config.numLayers}`);
  }
  if (inputs.keySlots !== undefined && (inputs.keySlots.rank !== 1 || inputs.keySlots.dtype !== 'int64')) throw bad('keySlots must be int64 [keys]');
  if (inputs.keyPadding !== undefined && (inputs.keyPadding.rank !== 2 || inputs.keyPadding.dtype !== 'int64')) throw bad('keyPadding must be int64 [batch, keys]');
}

/** Every linear module of the decoder in model order: (layer, module) pairs with their paths. */
export function decoderLinearSites(config: ModelConfig): LinearSite[] {
  const sites: LinearSite[] = [];
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const module of LINEAR_MODULES) {
      const [outFeatures, inFeatures] = linearShape(config, module);
      sites.push({ path: layerModulePath(layer, module), layer, module, inFeatures, outFeatures });
    }
  }
  return sites;
}
