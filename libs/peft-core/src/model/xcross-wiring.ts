import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import type { DType, TensorData } from '../graph/types';
import type { Value } from '../graph/value';
import type { LoraWeights } from '../lora/adapter';
import { decoderLinearSites } from './decoder';
import type { DecoderInputs } from './decoder-inputs';
import { DECODER_INPUT_NAMES } from './decoder-inputs';
import type { LoraTargets } from './lora-inputs';
import type { LinearSite, LoraWiring } from './lora-wiring';

/**
 * X-Cross (ALGORITHMS.md "X-Cross"): n adapted copies of the base run side by side, stacked on the
 * batch axis (request-major: row b·n + m is stream m's copy of request row b), each with its own
 * frozen LoRA. After every decoder layer l the streams are fused per token:
 *
 *   h_cat = [h_1; …; h_n]                                  [n·H]
 *   z = W_cat^(l) h_cat                                     [2·n(n−1)]: n(n−1) direct z, n(n−1) interaction z'
 *   h̃_m = h_m + Σ_{m'≠m} [β z_{m,m'} h_{m'} + γ z'_{m,m'} (h_m − h_{m'})]
 *
 * and h̃_m is stream m's input to layer l+1. After the last layer the streams are combined,
 * h = Σ_m w_m h̃_m^(L), and the decoder's final norm and lm_head run on that one [rows, seq, H]
 * state (the hook returns fewer rows than it got; the decoder applies nothing shape-specific
 * after the last layer).
 *
 * [inferred] choices (the paper leaves them open):
 * - z is linear in h_cat, per token, no bias and no squashing; W_cat starts at zero so an untrained
 *   fusion is exactly the independent streams. The z entries are ordered pairs (m, m') with m' ≠ m
 *   in row-major order: (0,1), (0,2), …, (1,0), (1,2), …; direct entries first, then interaction.
 * - β and γ are fixed hyperparameters (default 1).
 * - w is used as given (no softmax), initialised to 1/n, so one-hot w selects one stream exactly.
 * Vectorised: both sums are one n×n matrix per token, M = βD − γI' + γ·diag(rowsum I'), so
 * h̃ = h + M·h with D, I' the direct/interaction weights placed off the diagonal.
 *
 * The adapters are stacked per stream: A [n, R, in], B [n, out, R], scaling [n]; stream m's rows
 * take adapter m by a batched matmul over the stream axis (no per-row gather; same arithmetic as
 * the pool wiring with every row of a stream on one slot). Graphs take their tokens from
 * `declareXCrossDecoderInputs` (row count n·xcross_rows, so the stream axis can be split).
 */
export interface XCrossAdapterSlot {
  readonly A: Value;
  readonly B: Value;
  readonly scaling: Value;
}

export interface XCrossFusionParams {
  /** Per layer W_cat [2·n(n−1), n·H]. */
  readonly fusion: readonly Value[];
  /** Stream output weights w [n]. */
  readonly streamWeights: Value;
}

export interface XCrossOptions {
  readonly beta?: number;
  readonly gamma?: number;
}

export class XCrossWiring implements LoraWiring {
  readonly kind = 'xcross';
  readonly beta: number;
  readonly gamma: number;

  constructor(
    readonly streams: number,
    readonly numLayers: number,
    readonly hiddenSize: number,
    readonly adapters: ReadonlyMap<string, XCrossAdapterSlot>,
    readonly params: XCrossFusionParams,
    options: XCrossOptions = {},
  ) {
    this.beta = options.beta ?? 1;
    this.gamma = options.gamma ?? 1;
    const n = streams;
    if (!Number.isInteger(n) || n < 2) throw new PeftCoreError('INVALID_ARGUMENT', `X-Cross needs at least 2 streams, got ${n}`);
    if (params.fusion.length !== numLayers) throw new PeftCoreError('SHAPE_MISMATCH', `X-Cross: ${params.fusion.length} fusion matrices for ${numLayers} layers`);
    const pairs = n * (n - 1);
    params.fusion.forEach((w, l) => {
      if (w.rank !== 2 || w.shape[0] !== 2 * pairs || w.shape[1] !== n * hiddenSize) {
        throw new PeftCoreError('SHAPE_MISMATCH', `X-Cross: W_cat of layer ${l} must be [${2 * pairs}, ${n * hiddenSize}], got [${w.shape.join(', ')}]`);
      }
    });
    if (params.streamWeights.rank !== 1 || params.streamWeights.shape[0] !== n) {
      throw new PeftCoreError('SHAPE_MISMATCH', `X-Cross: stream weights must be [${n}], got [${params.streamWeights.shape.join(', ')}]`);
    }
    for (const [path, slot] of adapters) {
      if (slot.A.rank !== 3 || slot.B.rank !== 3 || slot.scaling.rank !== 1 || slot.A.shape[0] !== n || slot.B.shape[0] !== n || slot.scaling.shape[0] !== n) {
        throw new PeftCoreError('SHAPE_MISMATCH', `${path}: X-Cross adapters must be stacked per stream: A [${n}, R, in], B [${n}, out, R], scaling [${n}]`);
      }
    }
  }

  adaptLinear(g: Graph, site: LinearSite, x: Value, y: Value): Value {
    const slot = this.adapters.get(site.path);
    if (slot === undefined) return y;
    if (slot.A.shape[2] !== site.inFeatures || slot.B.shape[1] !== site.outFeatures) {
      throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `${site.path}: X-Cross adapter tensors do not fit the layer [${site.outFeatures}, ${site.inFeatures}]`);
    }
    // [rows, seq, in] → [n, seq, rows/n, in]: the stream axis leads so each stream's tokens meet
    // its own adapter in one batched matmul. (Reshapes keep 'seq' in place so that every
    // symbolic dim stays resolvable when the graph is emitted.)
    const streamsFirst = g.transpose(this.splitStreams(g, x), [2, 0, 1, 3]); // [n, seq, rows/n, in]
    const A = g.unsqueeze(slot.A, [1]); // [n, 1, R, in]
    const B = g.unsqueeze(slot.B, [1]); // [n, 1, out, R]
    const xa = g.mul(g.matmul(streamsFirst, A, { transB: true }), g.unsqueeze(slot.scaling, [1, 2, 3])); // [n, seq, rows/n, R]
    const delta = g.matmul(xa, B, { transB: true }); // [n, seq, rows/n, out]
    return g.add(y, this.joinStreams(g, g.transpose(delta, [1, 2, 0, 3]))); // via [seq, rows/n, n, out]
  }

  afterLayer(g: Graph, layer: number, hidden: Value): Value {
    const n = this.streams;
    const fused = fuseStreams(g, this.splitStreams(g, hidden), this.params.fusion[layer]!, n, this.beta, this.gamma); // [seq, rows/n, n, H]
    if (layer < this.numLayers - 1) return this.joinStreams(g, fused);
    // h = Σ_m w_m h̃_m over the stream axis → [seq, rows/n, H] → [rows/n, seq, H].
    const weighted = g.reduceSum(g.mul(fused, g.unsqueeze(this.params.streamWeights, [1])), [2]);
    return g.transpose(weighted, [1, 0, 2]);
  }

  /** [rows, seq, F] (row = b·n + m) → [seq, rows/n, n, F]. */
  private splitStreams(g: Graph, x: Value): Value {
    const F = x.shape[2]!;
    return g.reshape(g.transpose(x, [1, 0, 2]), [x.shape[1]!, -1, this.streams, F]);
  }

  /** [seq, rows/n, n, F] → [rows, seq, F]. */
  private joinStreams(g: Graph, x: Value): Value {
    const F = x.shape[3]!;
    return g.transpose(g.reshape(x, [x.shape[0]!, -1, F]), [1, 0, 2]);
  }
}

/**
 * One X-Cross fusion on token-major streams h [.., n, H] with W_cat [2·n(n−1), n·H]:
 * h̃ = h + M h per token, M = βD − γI' + γ·diag(rowsum I').
 */
export function fuseStreams(g: Graph, h: Value, wCat: Value, n: number, beta: number, gamma: number): Value {
  const H = h.shape[h.rank - 1] as number;
  const lead = h.shape.slice(0, -2);
  const hCat = g.reshape(h, [...lead, n * H]);
  const z = g.matmul(hCat, wCat, { transB: true }); // [.., 2·n(n−1)]
  const pairs = n * (n - 1);
  const place = g.constant(tensorData(h.dtype, [pairs, n * n], offDiagonalPlacement(n)));
  const direct = g.reshape(g.matmul(g.slice(z, -1, 0, pairs), place), [...lead, n, n]); // D
  const interaction = g.reshape(g.matmul(g.slice(z, -1, pairs, 2 * pairs), place), [...lead, n, n]); // I'
  const mix = g.sub(g.mul(direct, beta), g.mul(interaction, gamma)); // βD − γI'
  const selfTerm = g.mul(g.reduceSum(interaction, [h.rank - 1], true), gamma); // γ·rowsum(I') [.., n, 1]
  return g.add(g.add(h, g.matmul(mix, h)), g.mul(selfTerm, h));
}

/** [n(n−1), n·n] 0/1: pair p = (m, m') (m' ≠ m, row-major) goes to entry m·n + m'. */
export function offDiagonalPlacement(n: number): number[] {
  const out = new Array<number>(n * (n - 1) * n * n).fill(0);
  let p = 0;
  for (let m = 0; m < n; m++) {
    for (let m2 = 0; m2 < n; m2++) {
      if (m2 === m) continue;
      out[p * n * n + m * n + m2] = 1;
      p++;
    }
  }
  return out;
}

/** The ordered pairs (m, m') of z's entries, in order. */
export function xcrossPairs(n: number): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  for (let m = 0; m < n; m++) for (let m2 = 0; m2 < n; m2++) if (m2 !== m) pairs.push([m, m2]);
  return pairs;
}

export const xcrossNames = {
  fusion: (layer: number): string => `xcross.layers.${layer}.w_cat`,
  streamWeights: 'xcross.stream_weights',
  A: (path: string): string => `xcross.${path}.A`,
  B: (path: string): string => `xcross.${path}.B`,
  scaling: (path: string): string => `xcross.${path}.scaling`,
} as const;

export interface DeclareXCrossOptions extends XCrossOptions {
  readonly streams: number;
  readonly dtype?: DType;
}

export interface XCrossInputs {
  readonly wiring: XCrossWiring;
  readonly targets: LoraTargets;
  /** W_cat per layer, then w: the trainable set. */
  readonly trainable: readonly Value[];
}

/** Declares the fusion parameters and the per-stream stacked adapters as graph inputs. */
export function declareXCross(g: Graph, config: ModelConfig, targets: LoraTargets, options: DeclareXCrossOptions): XCrossInputs {
  const n = options.streams;
  const dtype = options.dtype ?? 'float32';
  const sites = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
  const adapters = new Map<string, XCrossAdapterSlot>();
  targets.paths.forEach((path, i) => {
    const site = sites.get(path);
    if (site === undefined) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `X-Cross target ${path} is not a linear module of this ${config.family} decoder`);
    const R = `xcross_r${i}`;
    adapters.set(path, {
      A: g.input(xcrossNames.A(path), dtype, [n, R, site.inFeatures]),
      B: g.input(xcrossNames.B(path), dtype, [n, site.outFeatures, R]),
      scaling: g.input(xcrossNames.scaling(path), dtype, [n]),
    });
  });
  const pairs = n * (n - 1);
  const fusion = Array.from({ length: config.numLayers }, (_, l) => g.input(xcrossNames.fusion(l), dtype, [2 * pairs, n * config.hiddenSize]));
  const streamWeights = g.input(xcrossNames.streamWeights, dtype, [n]);
  const wiring = new XCrossWiring(n, config.numLayers, config.hiddenSize, adapters, { fusion, streamWeights }, options);
  return { wiring, targets, trainable: [...fusion, streamWeights] };
}

/**
 * Decoder inputs for n stacked streams: tokens/positions [n·rows, seq] with the row count a
 * multiple of n in the graph's dim algebra, so the fusion can split the stream axis.
 */
export function declareXCrossDecoderInputs(g: Graph, streams: number): DecoderInputs {
  const rows = `${streams}*xcross_rows`;
  return {
    tokens: g.input(DECODER_INPUT_NAMES.tokens, 'int64', [rows, 'seq']),
    positions: g.input(DECODER_INPUT_NAMES.positions, 'int64', [rows, 'seq']),
    querySlots: g.input(DECODER_INPUT_NAMES.querySlots, 'int64', ['seq']),
  };
}

/** Token rows for n streams: every request row repeated once per stream (row b·n + m). */
export function xcrossStreamRows(tokens: readonly (readonly number[])[], streams: number): number[][] {
  const out: number[][] = [];
  for (const row of tokens) for (let m = 0; m < streams; m++) out.push([...row]);
  return out;
}

/** Stacked adapter feeds, adapter m for stream m (ranks zero-padded per module). */
export function xcrossAdapterFeeds(config: ModelConfig, targets: LoraTargets, adapters: readonly LoraWeights[]): Record<string, TensorData> {
  const sites = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
  const n = adapters.length;
  const feeds: Record<string, TensorData> = {};
  const covered = new Set(targets.paths);
  adapters.forEach((a, m) => {
    for (const path of a.modules.keys()) {
      if (!covered.has(path)) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `stream ${m}'s adapter adapts ${path}, which this X-Cross graph does not target`);
    }
  });
  for (const path of targets.paths) {
    const { inFeatures: inF, outFeatures: outF } = sites.get(path)!;
    const modules = adapters.map((a) => a.modules.get(path));
    const R = Math.max(1, ...modules.map((m) => m?.A.shape[0] ?? 0));
    const A = new Float32Array(n * R * inF);
    const B = new Float32Array(n * outF * R);
    const scaling = new Float32Array(n);
    modules.forEach((mod, m) => {
      if (mod === undefined) return;
      if (mod.magnitude !== undefined) throw new PeftCoreError('UNSUPPORTED', `${path}: DoRA adapters are not supported by X-Cross; merge them first`);
      const r = mod.A.shape[0]!;
      if (mod.A.shape[1] !== inF || mod.B.shape[0] !== outF || mod.B.shape[1] !== r) {
        throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `${path}: stream ${m}'s adapter has A [${mod.A.shape.join(', ')}], B [${mod.B.shape.join(', ')}], the layer is [${outF}, ${inF}]`);
      }
      A.set(mod.A.data, m * R * inF);
      for (let o = 0; o < outF; o++) B.set(mod.B.data.subarray(o * r, (o + 1) * r), (m * outF + o) * R);
      scaling[m] = mod.scaling;
    });
    feeds[xcrossNames.A(path)] = tensorData('float32', [n, R, inF], A);
    feeds[xcrossNames.B(path)] = tensorData('float32', [n, outF, R], B);
    feeds[xcrossNames.scaling(path)] = tensorData('float32', [n], scaling);
  }
  return feeds;
}
