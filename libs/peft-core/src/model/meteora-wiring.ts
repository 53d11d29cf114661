import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { mulDims } from '../graph/dims';
import type { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import type { DType, TensorData } from '../graph/types';
import type { Value } from '../graph/value';
import type { LoraWeights } from '../lora/adapter';
import { decoderLinearSites } from './decoder';
import type { LoraTargets } from './lora-inputs';
import type { LinearSite, LoraWiring } from './lora-wiring';

/**
 * MeteoRA (ALGORITHMS.md "MeteoRA"): N frozen LoRA experts embedded in every adapted projection,
 * mixed per token by a learned gate W_g [N, in] (no bias):
 *   s = W_g x;  (v, idx) = topk(s + b, k);  w = softmax(v / T);
 *   y = W0 x + Σ_{j ∈ idx} w_j · σ_j · B_j A_j x
 * where σ_j is expert j's own LoRA scaling (alpha/r). [inferred] The "s_j" of the brief's
 * formula is read as that scaling: multiplying softmax weights by the raw gate logits again
 * would make the output scale with |s| and has no counterpart in the paper's reference code.
 *
 * b [N] is an optional fixed logit offset (zero reproduces the paper). Serving uses it to pin
 * an expert (+large) or to mask experts that are not loaded (−large); it never trains.
 *
 * Compute is dense: every token runs through all N experts as one [N·R, in] GEMM and the top-k
 * weights (zero outside the top-k) keep the chosen ones. For N ≤ 16 and LoRA ranks this costs
 * N·R·(in + out) multiply-adds per token, small next to the base projection, and avoids a
 * per-(token, slot) gather that onnxruntime's CPU kernels do slowly. A sparse gathered form is
 * the S-LoRA kernel shape (see the pool wiring) and belongs to a GPU kernel.
 */
export interface MeteoraSlot {
  /** W_g [N, in]: the gate, trainable. */
  readonly gate: Value;
  /** Stacked expert factors A [N, R, in] (ranks zero-padded to R). */
  readonly A: Value;
  /** Stacked expert factors B [N, out, R]. */
  readonly B: Value;
  /** Each expert's LoRA scaling [N]. */
  readonly scaling: Value;
  /** W_p [N, V]: the gate over the prefix-token feature (when the wiring has one), trainable. */
  readonly prefixGate?: Value;
}

export interface MeteoraOptions {
  /** Experts mixed per token (default 2, the paper's). */
  readonly topK?: number;
  /** Softmax temperature over the top-k logits (default 1). */
  readonly temperature?: number;
  /** Optional fixed logit offsets [N] added before top-k (pin or mask experts). */
  readonly expertBias?: Value;
  /**
   * Prefix-token feature p [batch, seq, V]: p[t, v] = 1 when token v is in the prompt or at a
   * position ≤ t (fed by the host: meteora-prefix.ts, which also has a per-line scope). With it every gate is s = W_g x + W_p p. [extension, not in the paper]
   * On the evaluation world the per-token hidden state x does not carry the task: the task
   * markers never occur in the base's pretraining corpus, so nothing moves them forward, and
   * gates on x alone stall at ≈ 70 % top-1 (layer 0's q/k/v see one token, ≈ 52 %). The
   * prefix feature exposes "which marker has been seen", causal like x, and cheap to carry
   * through KV-cache decoding (one [V] set per sequence).
   */
  readonly prefix?: Value;
}

/** What one gated projection produced, for the auxiliary loss and for gate statistics. */
export interface MeteoraGateRecord {
  readonly path: string;
  readonly layer: number;
  /** s = W_g x, [batch, seq, N] (before the offset b and temperature). */
  readonly logits: Value;
  /** Mixing weights over all N experts, zero outside the top-k: [batch, seq, N]. */
  readonly weights: Value;
}

export class MeteoraWiring implements LoraWiring {
  readonly kind = 'meteora';
  readonly topK: number;
  readonly temperature: number;
  readonly experts: number;
  private readonly records: MeteoraGateRecord[] = [];

  constructor(
    readonly modules: ReadonlyMap<string, MeteoraSlot>,
    private readonly options: MeteoraOptions = {},
  ) {
    const first = modules.values().next().value as MeteoraSlot | undefined;
    if (first === undefined) throw new PeftCoreError('INVALID_ARGUMENT', 'MeteoRA wiring: no gated modules');
    const n = first.gate.shape[0];
    if (typeof n !== 'number' || n < 1) throw new PeftCoreError('SHAPE_MISMATCH', `MeteoRA wiring: the expert count (gate rows) must be fixed, got ${String(n)}`);
    this.experts = n;
    this.topK = options.topK ?? 2;
    this.temperature = options.temperature ?? 1;
    if (!Number.isInteger(this.topK) || this.topK < 1 || this.topK > n) {
      throw new PeftCoreError('INVALID_ARGUMENT', `MeteoRA wiring: topK must be an integer in [1, ${n}] for ${n} experts, got ${this.topK}`);
    }
    if (!(this.temperature > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `MeteoRA wiring: temperature must be positive, got ${this.temperature}`);
    for (const [path, slot] of modules) {
      const ok =
        slot.gate.rank === 2 && slot.gate.shape[0] === n &&
        slot.A.rank === 3 && slot.A.shape[0] === n &&
        slot.B.rank === 3 && slot.B.shape[0] === n &&
        slot.scaling.rank === 1 && slot.scaling.shape[0] === n;
      if (!ok) {
        throw new PeftCoreError(
          'SHAPE_MISMATCH',
          `${path}: MeteoRA expects gate [${n}, in], A [${n}, R, in], B [${n}, out, R], scaling [${n}], got gate [${slot.gate.shape.join(', ')}], A [${slot.A.shape.join(', ')}], B [${slot.B.shape.join(', ')}], scaling [${slot.scaling.shape.join(', ')}]`,
        );
      }
    }
    const bias = options.expertBias;
    if (bias !== undefined && (bias.rank !== 1 || bias.shape[0] !== n)) {
      throw new PeftCoreError('SHAPE_MISMATCH', `MeteoRA wiring: expertBias must be [${n}], got [${bias.shape.join(', ')}]`);
    }
  }

  /** Every gated projection in the order the decoder built them (valid after buildDecoderForward). */
  get gateRecords(): readonly MeteoraGateRecord[] {
    return this.records;
  }

  adaptLinear(g: Graph, site: LinearSite, x: Value, y: Value): Value {
    const slot = this.modules.get(site.path);
    if (slot === undefined) return y;
    const [, rankDim, inDim] = slot.A.shape;
    if (inDim !== site.inFeatures || slot.gate.shape[1] !== site.inFeatures || slot.B.shape[1] !== site.outFeatures) {
      throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `${site.path}: MeteoRA tensors do not fit the layer [${site.outFeatures}, ${site.inFeatures}]`);
    }
    const prefix = this.options.prefix;
    if ((prefix === undefined) !== (slot.prefixGate === undefined)) {
      throw new PeftCoreError('INVALID_ARGUMENT', `${site.path}: MeteoRA prefix gate and prefix-token feature must come together`);
    }
    const fromX = g.matmul(x, slot.gate, { transB: true }); // [batch, seq, N]
    const logits = prefix === undefined ? fromX : g.add(fromX, g.matmul(prefix, slot.prefixGate!, { transB: true }));
    const weights = topKMixingWeights(g, logits, this.topK, this.temperature, this.options.expertBias);
    this.records.push({ path: site.path, layer: site.layer, logits, weights });

    const [batch, seq] = x.shape as [number | string, number | string];
    const n = this.experts;
    const flatRank = mulDims(n, rankDim!);
    const allA = g.reshape(slot.A, [flatRank, site.inFeatures]); // [N·R, in]
    const xa = g.reshape(g.matmul(x, allA, { transB: true }), [batch, seq, n, rankDim!]); // [batch, seq, N, R]
    const tokenWeight = g.unsqueeze(g.mul(weights, slot.scaling), [3]); // [batch, seq, N, 1]
    const kept = g.reshape(g.mul(xa, tokenWeight), [batch, seq, flatRank]);
    const allB = g.reshape(g.transpose(slot.B, [1, 0, 2]), [site.outFeatures, flatRank]); // [out, N·R]
    return g.add(y, g.matmul(kept, allB, { transB: true }));
  }
}

/**
 * Per-token mixing weights [.., N] from gate logits [.., N]: softmax over the top-k of
 * (logits + bias) divided by T, scattered back to the N experts (zero elsewhere). The scatter is a
 * one-hot product so its gradient reaches the top-k values (and through them the gate).
 */
export function topKMixingWeights(g: Graph, logits: Value, k: number, temperature: number, bias?: Value): Value {
  const n = logits.shape[logits.rank - 1];
  if (typeof n !== 'number') throw new PeftCoreError('SHAPE_MISMATCH', 'top-k mixing: the expert axis must have a fixed size');
  const scores = bias === undefined ? logits : g.add(logits, bias);
  const { values, indices } = g.topk(scores, k, -1);
  const w = g.softmax(temperature === 1 ? values : g.div(values, temperature), -1); // [.., k]
  const experts = g.constant(tensorData('int64', [n], Array.from({ length: n }, (_, i) => i)));
  const onehot = g.cast(g.equal(g.unsqueeze(indices, [-1]), experts), logits.dtype); // [.., k, N]
  return g.reduceSum(g.mul(onehot, g.unsqueeze(w, [-1])), [logits.rank - 1]); // [.., N]
}

/** Graph input names of a MeteoRA graph. */
export const meteoraNames = {
  gate: (path: string): string => `meteora.${path}.gate`,
  A: (path: string): string => `meteora.${path}.A`,
  B: (path: string): string => `meteora.${path}.B`,
  scaling: (path: string): string => `meteora.${path}.scaling`,
  expertBias: 'meteora.expert_bias',
  prefix: 'meteora.prefix_tokens',
  prefixGate: (path: string): string => `meteora.${path}.prefix_gate`,
  gateLogits: (path: string): string => `meteora.${path}.gate_logits`,
  gateWeights: (path: string): string => `meteora.${path}.gate_weights`,
} as const;

export interface DeclareMeteoraOptions extends Omit<MeteoraOptions, 'expertBias'> {
  readonly experts: number;
  /** Declare the fed expert logit offsets [N] (default false). */
  readonly expertBias?: boolean;
  /** Vocabulary size V of the prefix-token feature; 0 or absent = gates on x only (the paper). */
  readonly prefixTokens?: number;
  /** dtype of every float input (float64 for gradient checks; default float32). */
  readonly dtype?: DType;
}

export interface MeteoraInputs {
  readonly wiring: MeteoraWiring;
  readonly targets: LoraTargets;
  /** The gate values in target order: what gate training differentiates. */
  readonly gates: readonly Value[];
  /** The prefix gates in target order (empty without the prefix feature). */
  readonly prefixGates: readonly Value[];
}

/**
 * Declares gate, stacked experts and scalings as graph inputs for each target path (the union of
 * the experts' modules). Ranks are symbolic per module, so any expert set with these targets
 * feeds the same graph.
 */
export function declareMeteora(g: Graph, config: ModelConfig, targets: LoraTargets, options: DeclareMeteoraOptions): MeteoraInputs {
  const sites = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
  const dtype = options.dtype ?? 'float32';
  const n = options.experts;
  const modules = new Map<string, MeteoraSlot>();
  const gates: Value[] = [];
  const prefixGates: Value[] = [];
  const V = options.prefixTokens ?? 0;
  const prefix = V > 0 ? g.input(meteoraNames.prefix, dtype, ['batch', 'seq', V]) : undefined;
  targets.paths.forEach((path, i) => {
    const site = sites.get(path);
    if (site === undefined) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `MeteoRA target ${path} is not a linear module of this ${config.family} decoder`);
    const R = `meteora_r${i}`;
    const gate = g.input(meteoraNames.gate(path), dtype, [n, site.inFeatures]);
    const prefixGate = prefix !== undefined ? g.input(meteoraNames.prefixGate(path), dtype, [n, V]) : undefined;
    if (prefixGate) prefixGates.push(prefixGate);
    modules.set(path, {
      ...(prefixGate ? { prefixGate } : {}),
      gate,
      A: g.input(meteoraNames.A(path), dtype, [n, R, site.inFeatures]),
      B: g.input(meteoraNames.B(path), dtype, [n, site.outFeatures, R]),
      scaling: g.input(meteoraNames.scaling(path), dtype, [n]),
    });
    gates.push(gate);
  });
  const expertBias = options.expertBias ? g.input(meteoraNames.expertBias, dtype, [n]) : undefined;
  const wiring = new MeteoraWiring(modules, {
    ...(options.topK !== undefined ? { topK: options.topK } : {}),
    ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
    ...(expertBias ? { expertBias } : {}),
    ...(prefix ? { prefix } : {}),
  });
  return { wiring, targets, gates, prefixGates };
}

/** Marks every gate's logits and mixing weights as graph outputs (names from `meteoraNames`). */
export function outputMeteoraGates(g: Graph, wiring: MeteoraWiring): string[] {
  const names: string[] = [];
  for (const r of wiring.gateRecords) {
    g.output(meteoraNames.gateLogits(r.path), r.logits);
    g.output(meteoraNames.gateWeights(r.path), r.weights);
    names.push(meteoraNames.gateLogits(r.path), meteoraNames.gateWeights(r.path));
  }
  return names;
}

/**
 * Feeds for the stacked experts of every target: expert j's A/B at index j, ranks zero-padded to
 * the module's largest rank (exact: padded rows and columns contribute nothing); an expert that
 * does not adapt a module contributes zeros there (it can still be selected, and adds nothing).
 */
export function meteoraExpertFeeds(config: ModelConfig, targets: LoraTargets, experts: readonly LoraWeights[]): Record<string, TensorData> {
  const sites = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
  const n = experts.length;
  const feeds: Record<string, TensorData> = {};
  const covered = new Set(targets.paths);
  experts.forEach((e, j) => {
    for (const path of e.modules.keys()) {
      if (!covered.has(path)) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `expert ${j} adapts ${path}, which this MeteoRA graph does not gate`);
    }
  });
  for (const path of targets.paths) {
    const { inFeatures: inF, outFeatures: outF } = sites.get(path)!;
    const modules = experts.map((e) => e.modules.get(path));
    const R = Math.max(1, ...modules.map((m) => m?.A.shape[0] ?? 0));
    const A = new Float32Array(n * R * inF);
    const B = new Float32Array(n * outF * R);
    const scaling = new Float32Array(n);
    modules.forEach((m, j) => {
      if (m === undefined) return;
      const r = m.A.shape[0]!;
      if (m.magnitude !== undefined) throw new PeftCoreError('UNSUPPORTED', `${path}: DoRA experts are not supported by MeteoRA; merge them first`);
      if (m.A.shape[1] !== inF || m.B.shape[0] !== outF || m.B.shape[1] !== r) {
        throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `${path}: expert ${j} has A [${m.A.shape.join(', ')}], B [${m.B.shape.join(', ')}], the layer is [${outF}, ${inF}]`);
      }
      A.set(m.A.data, j * R * inF);
      for (let o = 0; o < outF; o++) B.set(m.B.data.subarray(o * r, (o + 1) * r), (j * outF + o) * R);
      scaling[j] = m.scaling;
    });
    feeds[meteoraNames.A(path)] = tensorData('float32', [n, R, inF], A);
    feeds[meteoraNames.B(path)] = tensorData('float32', [n, outF, R], B);
    feeds[meteoraNames.scaling(path)] = tensorData('float32', [n], scaling);
  }
  return feeds;
}
