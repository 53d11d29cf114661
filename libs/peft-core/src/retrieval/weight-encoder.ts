/**
 * The AutoLoRA weight encoder as a graph (so it trains with the engine's autodiff):
 *
 *   per adapted layer (type t, layer l):  t_l = x_{t,l} A_lᵀ B_lᵀ           [P, out_t]
 *     x_{t,l} [P, in_t] are P learned probes; scaling is folded into B, so t_l depends only on
 *     s·B·A: any re-parameterisation A' = M·A, B' = B·M⁻¹ (and any zero rank padding) gives the
 *     same t_l, hence the same embedding.
 *   adapter-wide RMS normalisation: t_l / rms(all present t)  [inferred] — makes z invariant to a
 *     global rescaling of ΔW (adapters trained with different lr/alpha), while keeping how the
 *     adapter's change is spread over its layers.
 *   e_l = Proj_t(flatten t_l) + pos[l]                              one projection per layer type
 *   a small pre-norm transformer encoder over the tokens (all types × layers; missing modules are
 *     masked out of attention and pooling), mean-pool over present tokens, a linear head to
 *     outDim, L2-normalise → z.
 *
 * Parameters are graph inputs (named `enc.*`), fed on every run: the same graph serves encoding
 * and training, and a trained artifact loads without recompiling anything per adapter.
 */
import { PeftCoreError } from '../errors';
import { compile, type CompiledGraph } from '../graph/compile';
import { Graph } from '../graph/graph';
import * as nn from '../graph/nn';
import { tensorData } from '../graph/tensor-data';
import type { DType, TensorData } from '../graph/types';
import type { Value } from '../graph/value';
import type { LoraWeights } from '../lora/adapter';
import { Rng } from '../util/rng';
import { ADAPTER_INPUT_NAMES, packAdapterBatch, rankDim, type EncoderLayout } from './adapter-batch';

export interface WeightEncoderConfig {
  readonly layout: EncoderLayout;
  /** Learned probe vectors per (type, layer). */
  readonly probes: number;
  /** Token width of the transformer. */
  readonly width: number;
  readonly heads: number;
  /** Transformer blocks (1–2 is plenty for tens of tokens). */
  readonly blocks: number;
  readonly ffnWidth: number;
  /** Embedding size (the registry stores vector(256)). */
  readonly outDim: number;
}

export type WeightEncoderOptions = Partial<Omit<WeightEncoderConfig, 'layout'>>;

export function weightEncoderConfig(layout: EncoderLayout, options: WeightEncoderOptions = {}): WeightEncoderConfig {
  const config: WeightEncoderConfig = {
    layout,
    probes: options.probes ?? 4,
    width: options.width ?? 64,
    heads: options.heads ?? 4,
    blocks: options.blocks ?? 1,
    ffnWidth: options.ffnWidth ?? 128,
    outDim: options.outDim ?? 256,
  };
  for (const key of ['probes', 'width', 'heads', 'blocks', 'ffnWidth', 'outDim'] as const) {
    if (!Number.isInteger(config[key]) || config[key] < 1) throw new PeftCoreError('INVALID_ARGUMENT', `weight encoder: ${key} must be a positive integer, got ${config[key]}`);
  }
  if (config.width % config.heads !== 0) throw new PeftCoreError('INVALID_ARGUMENT', `weight encoder: width ${config.width} is not divisible by ${config.heads} heads`);
  if (layout.numLayers < 1 || layout.types.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'weight encoder: the layout has no layers or no layer types');
  return config;
}

/** Graph/artifact names of the encoder's parameters. */
export const ENCODER_PARAM = {
  probe: (type: string): string => `enc.probe.${type}`,
  projWeight: (type: string): string => `enc.proj.${type}.weight`,
  projBias: (type: string): string => `enc.proj.${type}.bias`,
  position: 'enc.position',
  block: (b: number, part: 'norm1' | 'wq' | 'wk' | 'wv' | 'wo' | 'norm2' | 'w1' | 'w2'): string => `enc.block.${b}.${part}`,
  finalNorm: 'enc.final_norm',
  head: 'enc.head',
} as const;

/** Every parameter's name and shape, in a fixed order. */
export function weightEncoderParamShapes(config: WeightEncoderConfig): Map<string, number[]> {
  const { layout, probes: P, width: D, ffnWidth: F, outDim } = config;
  const L = layout.numLayers;
  const shapes = new Map<string, number[]>();
  for (const t of layout.types) {
    shapes.set(ENCODER_PARAM.probe(t.name), [L, P, t.inDim]);
    shapes.set(ENCODER_PARAM.projWeight(t.name), [D, P * t.outDim]);
    shapes.set(ENCODER_PARAM.projBias(t.name), [D]);
  }
  shapes.set(ENCODER_PARAM.position, [L, D]);
  for (let b = 0; b < config.blocks; b++) {
    shapes.set(ENCODER_PARAM.block(b, 'norm1'), [D]);
    for (const w of ['wq', 'wk', 'wv', 'wo'] as const) shapes.set(ENCODER_PARAM.block(b, w), [D, D]);
    shapes.set(ENCODER_PARAM.block(b, 'norm2'), [D]);
    shapes.set(ENCODER_PARAM.block(b, 'w1'), [F, D]);
    shapes.set(ENCODER_PARAM.block(b, 'w2'), [D, F]);
  }
  shapes.set(ENCODER_PARAM.finalNorm, [D]);
  shapes.set(ENCODER_PARAM.head, [outDim, D]);
  return shapes;
}

/**
 * Seeded initial parameters: Gaussian probes (their scale cancels in the normalisation),
 * fan-in-scaled linear layers, residual outputs (wo, w2) scaled down by 1/sqrt(2·blocks) as in
 * GPT-2, unit norms, a small positional table.
 */
export function initWeightEncoderParams(config: WeightEncoderConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const params = new Map<string, Float32Array>();
  const residualScale = 1 / Math.sqrt(2 * config.blocks);
  for (const [name, shape] of weightEncoderParamShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape[shape.length - 1]!;
    let std: number;
    if (name.endsWith('norm1') || name.endsWith('norm2') || name === ENCODER_PARAM.finalNorm) {
      params.set(name, new Float32Array(n).fill(1));
      continue;
    } else if (name.endsWith('.bias')) {
      params.set(name, new Float32Array(n));
      continue;
    } else if (name.startsWith('enc.probe.')) std = 1;
    else if (name === ENCODER_PARAM.position) std = 0.1;
    else if (name.endsWith('.wo') || name.endsWith('.w2')) std = residualScale / Math.sqrt(fanIn);
    else std = 1 / Math.sqrt(fanIn);
    params.set(name, Float32Array.from({ length: n }, () => std * rng.normal()));
  }
  return params;
}

/** Declares every parameter as a graph input of `dtype`. */
export function declareWeightEncoderParams(g: Graph, config: WeightEncoderConfig, dtype: DType = 'float32'): Map<string, Value> {
  const values = new Map<string, Value>();
  for (const [name, shape] of weightEncoderParamShapes(config)) values.set(name, g.input(name, dtype, shape));
  return values;
}

/** Per layer type: the packed adapter tensors (see adapter-batch.ts). N is the symbol 'adapters'. */
export interface AdapterBatchInputs {
  readonly perType: ReadonlyMap<string, { readonly A: Value; readonly B: Value; readonly mask: Value }>;
}

export function declareAdapterBatchInputs(g: Graph, config: WeightEncoderConfig, dtype: DType = 'float32', batch: number | string = 'adapters'): AdapterBatchInputs {
  const L = config.layout.numLayers;
  const perType = new Map<string, { A: Value; B: Value; mask: Value }>();
  for (const t of config.layout.types) {
    const r = rankDim(t.name);
    perType.set(t.name, {
      A: g.input(ADAPTER_INPUT_NAMES.A(t.name), dtype, [batch, L, r, t.inDim]),
      B: g.input(ADAPTER_INPUT_NAMES.B(t.name), dtype, [batch, L, t.outDim, r]),
      mask: g.input(ADAPTER_INPUT_NAMES.mask(t.name), dtype, [batch, L]),
    });
  }
  return { perType };
}

function param(params: ReadonlyMap<string, Value>, name: string): Value {
  const v = params.get(name);
  if (!v) throw new PeftCoreError('GRAPH_INVALID', `weight encoder: parameter ${name} was not declared`);
  return v;
}

/** Squared-norm floor of the normalisations: only an all-zero adapter or embedding ever reaches it. */
const NORM_EPS = 1e-12;
/** Added to attention scores of missing modules. */
const MASKED_SCORE = -1e9;

/** z [N, outDim], unit rows: the weight embeddings of the packed adapter batch. */
export function buildWeightEncoder(g: Graph, config: WeightEncoderConfig, params: ReadonlyMap<string, Value>, inputs: AdapterBatchInputs): Value {
  const { layout, probes: P, width: D, heads: H } = config;
  const L = layout.numLayers;

  // 1. Probe responses t = x Aᵀ Bᵀ per type: [N, L, P, out] → [N, L, P·out].
  const responses = layout.types.map((t) => {
    const io = inputs.perType.get(t.name);
    if (!io) throw new PeftCoreError('GRAPH_INVALID', `weight encoder: no adapter inputs for layer type ${t.name}`);
    const xa = g.matmul(param(params, ENCODER_PARAM.probe(t.name)), io.A, { transB: true }); // [N, L, P, R]
    const xab = g.matmul(xa, io.B, { transB: true }); // [N, L, P, out]
    return { type: t, flat: g.reshape(xab, [-1, L, P * t.outDim]), mask: io.mask };
  });

  // 2. One RMS over every entry of every present module of the adapter (absent modules are zeros).
  const sumSquares = g.sum(responses.map((r) => g.reduceSum(g.pow(r.flat, 2), [1, 2], true))); // [N, 1, 1]
  const count = g.sum(responses.map((r) => g.mul(g.reduceSum(r.mask, [1], true), P * r.type.outDim))); // [N, 1]
  const rms = g.sqrt(g.add(g.div(sumSquares, g.unsqueeze(count, [2])), NORM_EPS));

  // 3. Tokens: per-type projection + positional table over layer index; type-major order.
  const tokens = g.concat(
    responses.map((r) => {
      const e = nn.linear(g, g.div(r.flat, rms), param(params, ENCODER_PARAM.projWeight(r.type.name)), param(params, ENCODER_PARAM.projBias(r.type.name)));
      return g.add(e, param(params, ENCODER_PARAM.position));
    }),
    1,
  ); // [N, S, D], S = types·L
  const S = layout.types.length * L;
  const mask = g.concat(responses.map((r) => r.mask), 1); // [N, S]
  const scoreMask = g.reshape(g.mul(g.sub(mask, 1), -MASKED_SCORE), [-1, 1, 1, S]);

  // 4. Pre-norm transformer blocks.
  let h = tokens;
  const headDim = D / H;
  const splitHeads = (x: Value): Value => g.transpose(g.reshape(x, [-1, S, H, headDim]), [0, 2, 1, 3]);
  for (let b = 0; b < config.blocks; b++) {
    const x = nn.rmsNorm(g, h, param(params, ENCODER_PARAM.block(b, 'norm1')), 1e-6);
    const q = splitHeads(nn.linear(g, x, param(params, ENCODER_PARAM.block(b, 'wq'))));
    const k = splitHeads(nn.linear(g, x, param(params, ENCODER_PARAM.block(b, 'wk'))));
    const v = splitHeads(nn.linear(g, x, param(params, ENCODER_PARAM.block(b, 'wv'))));
    const attended = nn.attention(g, q, k, v, { mask: scoreMask }); // [N, H, S, headDim]
    const merged = g.reshape(g.transpose(attended, [0, 2, 1, 3]), [-1, S, D]);
    h = g.add(h, nn.linear(g, merged, param(params, ENCODER_PARAM.block(b, 'wo'))));
    const y = nn.rmsNorm(g, h, param(params, ENCODER_PARAM.block(b, 'norm2')), 1e-6);
    h = g.add(h, nn.linear(g, nn.silu(g, nn.linear(g, y, param(params, ENCODER_PARAM.block(b, 'w1')))), param(params, ENCODER_PARAM.block(b, 'w2'))));
  }
  h = nn.rmsNorm(g, h, param(params, ENCODER_PARAM.finalNorm), 1e-6);

  // 5. Mean over present tokens, head, L2-normalise.
  const pooled = g.div(g.reduceSum(g.mul(h, g.unsqueeze(mask, [2])), [1]), g.reduceSum(mask, [1], true)); // [N, D]
  return l2Normalize(g, nn.linear(g, pooled, param(params, ENCODER_PARAM.head)));
}

/** Rows of x [N, d] scaled to unit length. */
export function l2Normalize(g: Graph, x: Value): Value {
  return g.div(x, g.sqrt(g.add(g.reduceSum(g.pow(x, 2), [-1], true), NORM_EPS)));
}

/** Feeds for the parameters (views, no copies). */
export function encoderParamFeeds(config: WeightEncoderConfig, params: ReadonlyMap<string, Float32Array>): Record<string, TensorData> {
  const feeds: Record<string, TensorData> = {};
  for (const [name, shape] of weightEncoderParamShapes(config)) {
    const data = params.get(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!data) throw new PeftCoreError('INVALID_ARGUMENT', `weight encoder: parameter ${name} is missing`);
    if (data.length !== n) throw new PeftCoreError('SHAPE_MISMATCH', `weight encoder: parameter ${name} has ${data.length} values, shape [${shape.join(', ')}] needs ${n}`);
    feeds[name] = tensorData('float32', shape, data);
  }
  return feeds;
}

/** Encodes adapters with fixed parameters (the embed job's path). */
export class WeightEncoder {
  private constructor(
    readonly config: WeightEncoderConfig,
    private readonly params: ReadonlyMap<string, Float32Array>,
    private readonly graph: CompiledGraph,
  ) {}

  static async create(config: WeightEncoderConfig, params: ReadonlyMap<string, Float32Array>): Promise<WeightEncoder> {
    encoderParamFeeds(config, params); // validates names and sizes before compiling
    const g = new Graph();
    const z = buildWeightEncoder(g, config, declareWeightEncoderParams(g, config), declareAdapterBatchInputs(g, config));
    g.output('z', z);
    return new WeightEncoder(config, params, await compile(g));
  }

  /** One unit vector of config.outDim per adapter, in batches of `batchSize`. */
  async encode(adapters: readonly LoraWeights[], batchSize = 16): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    const paramFeeds = encoderParamFeeds(this.config, this.params);
    for (let start = 0; start < adapters.length; start += batchSize) {
      const batch = adapters.slice(start, start + batchSize);
      const result = await this.graph.run({ ...paramFeeds, ...packAdapterBatch(this.config.layout, batch) }, ['z']);
      const z = result.z!.data as Float32Array;
      for (let i = 0; i < batch.length; i++) out.push(z.slice(i * this.config.outDim, (i + 1) * this.config.outDim));
    }
    return out;
  }

  dispose(): Promise<void> {
    return this.graph.dispose();
  }
}
