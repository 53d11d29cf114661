import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { loraModuleDims } from '../lora/delta';
import { effectiveWeight } from '../lora/merge';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';

/**
 * Plain-TypeScript reference forward of a Llama-family decoder (Llama, Mistral, Qwen2, SmolLM),
 * computed in f64 and written for clarity over speed. It is the oracle the ONNX model is checked
 * against, so every step follows Hugging Face transformers' `modeling_llama.py`:
 *
 *   h₀ = embed_tokens[tokens]
 *   hₗ' = hₗ + o_proj(Attn(RoPE(q_proj(n)), RoPE(k_proj(n)), v_proj(n))),  n = RMSNorm(hₗ; input_layernorm)
 *   hₗ₊₁ = hₗ' + down_proj(silu(gate_proj(n')) ⊙ up_proj(n')),            n' = RMSNorm(hₗ'; post_attention_layernorm)
 *   logits = lm_head(RMSNorm(h_L; norm))   (lm_head = embed_tokens when tie_word_embeddings)
 *
 * Not modelled: rope_scaling variants (Llama 3.1 "llama3", YaRN, …), sliding-window attention,
 * attention/MLP bias other than q/k/v, dropout. [inferred] Callers with such configs must not rely on it.
 */
export interface ReferenceForwardOptions {
  /**
   * LoRA applied to every targeted linear (keys are module paths such as 'model.layers.0.self_attn.q_proj'):
   * one adapter for the whole batch, or one per row (undefined = the base model for that row).
   */
  readonly lora?: LoraWeights | readonly (LoraWeights | undefined)[];
  /** Position ids per row (default 0..T−1). They move RoPE only; the causal mask stays by sequence index, as in HF. */
  readonly positions?: readonly (readonly number[])[];
}

export interface ReferenceLossOptions extends ReferenceForwardOptions {
  /**
   * Which tokens count as prediction targets, same shape as `tokens`: mask[b][t] ≠ 0 means token t is
   * predicted from position t−1 (like HF labels ≠ −100 after the shift). Token 0 is never a target.
   * Default: every token from position 1 on.
   */
  readonly lossMask?: readonly (readonly number[])[];
}

/** Logits [batch, seq, vocab] (f32) of the decoder for a batch of equal-length token rows. */
export function referenceForward(
  config: ModelConfig,
  weights: ReadonlyMap<string, HostTensor>,
  tokens: readonly (readonly number[])[],
  opts: ReferenceForwardOptions = {},
): HostTensor {
  const { batch, seq } = checkTokens(config, tokens);
  const logits = new Float32Array(batch * seq * config.vocabSize);
  for (let b = 0; b < batch; b++) {
    logits.set(forwardRow(config, new WeightReader(weights), tokens[b], rowOptions(opts, b, batch, seq)), b * seq * config.vocabSize);
  }
  return hostTensor([batch, seq, config.vocabSize], logits);
}

/**
 * Mean causal-LM cross-entropy over the target tokens of the batch, from f64 logits:
 * mean over (b, t ≥ 1 with mask) of logsumexp(logits[b, t−1]) − logits[b, t−1, tokens[b][t]].
 */
export function referenceLoss(
  config: ModelConfig,
  weights: ReadonlyMap<string, HostTensor>,
  tokens: readonly (readonly number[])[],
  opts: ReferenceLossOptions = {},
): number {
  const { batch, seq } = checkTokens(config, tokens);
  const V = config.vocabSize;
  if (opts.lossMask !== undefined && (opts.lossMask.length !== batch || opts.lossMask.some((row) => row.length !== seq))) {
    throw new PeftCoreError('SHAPE_MISMATCH', `referenceLoss: lossMask must have the shape of tokens [${batch}, ${seq}]`);
  }
  let total = 0;
  let count = 0;
  for (let b = 0; b < batch; b++) {
    const logits = forwardRow(config, new WeightReader(weights), tokens[b], rowOptions(opts, b, batch, seq));
    for (let t = 1; t < seq; t++) {
      if (opts.lossMask !== undefined && opts.lossMask[b][t] === 0) continue;
      const row = logits.subarray((t - 1) * V, t * V);
      total += logSumExp(row) - row[tokens[b][t]];
      count++;
    }
  }
  if (count === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'referenceLoss: no target tokens (mask is empty or seq < 2)');
  return total / count;
}

interface RowOptions {
  readonly lora: LoraWeights | undefined;
  readonly positions: readonly number[];
}

function rowOptions(opts: ReferenceForwardOptions, b: number, batch: number, seq: number): RowOptions {
  let lora: LoraWeights | undefined;
  if (Array.isArray(opts.lora)) {
    const perRow = opts.lora as readonly (LoraWeights | undefined)[];
    if (perRow.length !== batch) {
      throw new PeftCoreError('SHAPE_MISMATCH', `referenceForward: ${perRow.length} per-row adapters for a batch of ${batch}`);
    }
    lora = perRow[b];
  } else {
    lora = opts.lora as LoraWeights | undefined;
  }
  const positions = opts.positions?.[b] ?? Array.from({ length: seq }, (_, t) => t);
  if (positions.length !== seq || (opts.positions !== undefined && opts.positions.length !== batch)) {
    throw new PeftCoreError('SHAPE_MISMATCH', `referenceForward: positions must have the shape of tokens [${batch}, ${seq}]`);
  }
  return { lora, positions };
}

function checkTokens(config: ModelConfig, tokens: readonly (readonly number[])[]): { batch: number; seq: number } {
  const batch = tokens.length;
  const seq = batch > 0 ? tokens[0].length : 0;
  if (batch === 0 || seq === 0) throw new PeftCoreError('SHAPE_MISMATCH', 'referenceForward: tokens must be a non-empty batch of non-empty rows');
  for (const [b, row] of tokens.entries()) {
    if (row.length !== seq) throw new PeftCoreError('SHAPE_MISMATCH', `referenceForward: row ${b} has ${row.length} tokens, row 0 has ${seq}`);
    for (const id of row) {
      if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
        throw new PeftCoreError('INVALID_ARGUMENT', `referenceForward: token id ${id} in row ${b} is outside the vocabulary [0, ${config.vocabSize})`);
      }
    }
  }
  if (config.numHeads % config.numKvHeads !== 0) {
    throw new PeftCoreError('MODEL_CONFIG_INVALID', `num_attention_heads ${config.numHeads} is not a multiple of num_key_value_heads ${config.numKvHeads}`);
  }
  if (config.headDim % 2 !== 0) throw new PeftCoreError('MODEL_CONFIG_INVALID', `head_dim ${config.headDim} must be even for RoPE`);
  return { batch, seq };
}

/** Looks weights up by Hugging Face name, checks their shapes, and widens them to f64 once. */
class WeightReader {
  private readonly cache = new Map<string, Float64Array>();
  constructor(private readonly weights: ReadonlyMap<string, HostTensor>) {}

  get(name: string, shape: readonly number[]): Float64Array {
    const cached = this.cache.get(name);
    if (cached !== undefined) return cached;
    const t = this.raw(name, shape);
    const data = Float64Array.from(t.data);
    this.cache.set(name, data);
    return data;
  }

  raw(name: string, shape: readonly number[]): HostTensor {
    const t = this.weights.get(name);
    if (t === undefined) throw new PeftCoreError('CHECKPOINT_INVALID', `checkpoint is missing ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new PeftCoreError('CHECKPOINT_INVALID', `${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    return t;
  }
}

/** Logits [seq, vocab] in f64 for one row. */
function forwardRow(config: ModelConfig, w: WeightReader, tokens: readonly number[], row: RowOptions): Float64Array {
  const T = tokens.length;
  const H = config.hiddenSize;
  const embed = w.get('model.embed_tokens.weight', [config.vocabSize, H]);
  let h: Float64Array = new Float64Array(T * H);
  tokens.forEach((id, t) => h.set(embed.subarray(id * H, (id + 1) * H), t * H));

  for (let l = 0; l < config.numLayers; l++) {
    const p = `model.layers.${l}`;
    const n1 = rmsNorm(h, T, H, w.get(`${p}.input_layernorm.weight`, [H]), config.rmsNormEps);
    const attn = attention(config, w, p, n1, T, row);
    h = add(h, attn);
    const n2 = rmsNorm(h, T, H, w.get(`${p}.post_attention_layernorm.weight`, [H]), config.rmsNormEps);
    h = add(h, mlp(config, w, p, n2, T, row.lora));
  }
  const final = rmsNorm(h, T, H, w.get('model.norm.weight', [H]), config.rmsNormEps);
  const head = config.tieWordEmbeddings ? embed : w.get('lm_head.weight', [config.vocabSize, H]);
  return linearNoLora(final, T, H, head, config.vocabSize);
}

/** Causal multi-head attention with grouped-query KV heads and RoPE, as HF LlamaAttention (eager). */
function attention(config: ModelConfig, w: WeightReader, prefix: string, x: Float64Array, T: number, row: RowOptions): Float64Array {
  const H = config.hiddenSize;
  const nH = config.numHeads;
  const nKv = config.numKvHeads;
  const d = config.headDim;
  const bias = (name: string, size: number): Float64Array | undefined =>
    config.attentionBias ? w.get(`${prefix}.self_attn.${name}.bias`, [size]) : undefined;
  const q = adaptedLinear(w, `${prefix}.self_attn.q_proj`, x, T, H, nH * d, bias('q_proj', nH * d), row.lora);
  const k = adaptedLinear(w, `${prefix}.self_attn.k_proj`, x, T, H, nKv * d, bias('k_proj', nKv * d), row.lora);
  const v = adaptedLinear(w, `${prefix}.self_attn.v_proj`, x, T, H, nKv * d, bias('v_proj', nKv * d), row.lora);
  applyRotaryEmbedding(q, T, nH, d, row.positions, config.ropeTheta);
  applyRotaryEmbedding(k, T, nKv, d, row.positions, config.ropeTheta);

  const group = nH / nKv; // HF repeat_kv: query head h reads kv head floor(h / group)
  const scale = 1 / Math.sqrt(d);
  const ctx = new Float64Array(T * nH * d);
  const scores = new Float64Array(T);
  for (let head = 0; head < nH; head++) {
    const kvHead = Math.floor(head / group);
    for (let i = 0; i < T; i++) {
      const qo = (i * nH + head) * d;
      let max = -Infinity;
      for (let j = 0; j <= i; j++) {
        const ko = (j * nKv + kvHead) * d;
        let s = 0;
        for (let c = 0; c < d; c++) s += q[qo + c] * k[ko + c];
        scores[j] = s * scale;
        max = Math.max(max, scores[j]);
      }
      let denom = 0;
      for (let j = 0; j <= i; j++) {
        scores[j] = Math.exp(scores[j] - max);
        denom += scores[j];
      }
      for (let j = 0; j <= i; j++) {
        const p = scores[j] / denom;
        const vo = (j * nKv + kvHead) * d;
        for (let c = 0; c < d; c++) ctx[qo + c] += p * v[vo + c];
      }
    }
  }
  return adaptedLinear(w, `${prefix}.self_attn.o_proj`, ctx, T, nH * d, H, undefined, row.lora);
}

/** SwiGLU MLP: down_proj(silu(gate_proj(x)) ⊙ up_proj(x)). */
function mlp(config: ModelConfig, w: WeightReader, prefix: string, x: Float64Array, T: number, lora: LoraWeights | undefined): Float64Array {
  const H = config.hiddenSize;
  const I = config.intermediateSize;
  const gate = adaptedLinear(w, `${prefix}.mlp.gate_proj`, x, T, H, I, undefined, lora);
  const up = adaptedLinear(w, `${prefix}.mlp.up_proj`, x, T, H, I, undefined, lora);
  const act = new Float64Array(T * I);
  for (let i = 0; i < act.length; i++) act[i] = silu(gate[i]) * up[i];
  return adaptedLinear(w, `${prefix}.mlp.down_proj`, act, T, I, H, undefined, lora);
}

/**
 * y = x Wᵀ + b, plus the adapter when one targets `path`: LoRA adds s·(x Aᵀ) Bᵀ; DoRA replaces W by
 * (m/‖W+sBA‖_row) ⊙ (W+sBA) (bias untouched), which is what PEFT's unmerged DoRA forward computes.
 */
function adaptedLinear(
  w: WeightReader,
  path: string,
  x: Float64Array,
  T: number,
  inF: number,
  outF: number,
  bias: Float64Array | undefined,
  lora: LoraWeights | undefined,
): Float64Array {
  const module = lora?.modules.get(path);
  let y: Float64Array;
  if (module !== undefined && module.magnitude !== undefined) {
    checkLoraShape(module, outF, inF);
    const base = w.raw(`${path}.weight`, [outF, inF]);
    y = linearNoLora(x, T, inF, effectiveWeight(base.data, module), outF);
  } else {
    y = linearNoLora(x, T, inF, w.get(`${path}.weight`, [outF, inF]), outF);
    if (module !== undefined) {
      const { r } = checkLoraShape(module, outF, inF);
      const a = module.A.data;
      const b = module.B.data;
      const ax = new Float64Array(r);
      for (let t = 0; t < T; t++) {
        for (let j = 0; j < r; j++) {
          let s = 0;
          for (let c = 0; c < inF; c++) s += x[t * inF + c] * a[j * inF + c];
          ax[j] = s;
        }
        for (let o = 0; o < outF; o++) {
          let s = 0;
          for (let j = 0; j < r; j++) s += ax[j] * b[o * r + j];
          y[t * outF + o] += module.scaling * s;
        }
      }
    }
  }
  return bias === undefined ? y : addRowBias(y, T, outF, bias);
}

function checkLoraShape(module: LoraModule, outF: number, inF: number): { r: number } {
  const dims = loraModuleDims(module);
  if (dims.out !== outF || dims.in !== inF) {
    throw new PeftCoreError(
      'ADAPTER_INCOMPATIBLE',
      `${module.path}: adapter is [${dims.out}, ${dims.in}] but the base layer is [${outF}, ${inF}]`,
    );
  }
  return { r: dims.r };
}

/** x [T,in] · Wᵀ with W [out,in]. */
function linearNoLora(x: Float64Array, T: number, inF: number, W: ArrayLike<number>, outF: number): Float64Array {
  const y = new Float64Array(T * outF);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < outF; o++) {
      let s = 0;
      for (let c = 0; c < inF; c++) s += x[t * inF + c] * W[o * inF + c];
      y[t * outF + o] = s;
    }
  }
  return y;
}

function addRowBias(y: Float64Array, T: number, n: number, bias: Float64Array): Float64Array {
  const out = y.slice();
  for (let t = 0; t < T; t++) for (let o = 0; o < n; o++) out[t * n + o] += bias[o];
  return out;
}

/** HF LlamaRMSNorm: x / sqrt(mean(x²) + eps) · weight, per row. */
function rmsNorm(x: Float64Array, T: number, H: number, weight: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let c = 0; c < H; c++) ss += x[t * H + c] * x[t * H + c];
    const inv = 1 / Math.sqrt(ss / H + eps);
    for (let c = 0; c < H; c++) y[t * H + c] = x[t * H + c] * inv * weight[c];
  }
  return y;
}

/**
 * In-place RoPE, HF's rotate-half convention: inv_freq_i = 1/θ^(2i/d) for i < d/2, angle = pos·inv_freq_i,
 * and for each head x'_i = x_i cos − x_{i+d/2} sin, x'_{i+d/2} = x_{i+d/2} cos + x_i sin.
 */
export function applyRotaryEmbedding(x: Float64Array, T: number, heads: number, d: number, positions: readonly number[], theta: number): void {
  const half = d / 2;
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const invFreq = 1 / Math.pow(theta, (2 * i) / d);
      const angle = positions[t] * invFreq;
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      for (let h = 0; h < heads; h++) {
        const o = (t * heads + h) * d;
        const x1 = x[o + i];
        const x2 = x[o + i + half];
        x[o + i] = x1 * cos - x2 * sin;
        x[o + i + half] = x2 * cos + x1 * sin;
      }
    }
  }
}

function silu(v: number): number {
  return v / (1 + Math.exp(-v));
}

function add(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] + b[i];
  return out;
}

function logSumExp(row: Float64Array): number {
  let max = -Infinity;
  for (const v of row) max = Math.max(max, v);
  let s = 0;
  for (const v of row) s += Math.exp(v - max);
  return max + Math.log(s);
}
