/**
 * Inference with a trained router (MeteoRA gates, a FlyLoRA adapter, X-Cross fusion): the gated
 * wiring compiled into a forward graph (full logits, no cache: the reference) and a decode graph
 * (last logits + KV cache), and a generation loop over the decode graph that also reports gate
 * statistics per row.
 *
 * Why not LlamaModel / BatchDecoder: their sessions are keyed by the LoRA plan (single or pool),
 * and X-Cross runs n streams per request (its KV cache has n rows per request and the logits one),
 * which the pool wiring's one-row-per-request bookkeeping does not express. The loop here is
 * runGeneration's (left-padded prefill, one token per step, finished rows dropped from the cache)
 * with a stream factor s (1, or n for X-Cross) between request rows and cache rows.
 */
import type { KernelTensor } from '@palette/gpu-kernels';
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { compile, type CompiledGraph } from '../graph/compile';
import { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import type { Value } from '../graph/value';
import type { LoraWeights } from '../lora/adapter';
import { buildDecoderForward, decoderLinearSites } from '../model/decoder';
import { DECODER_INPUT_NAMES, declareDecoderInputs, leftPad, stepFeeds, type DecoderInputs } from '../model/decoder-inputs';
import { declareDecoderParams } from '../model/decoder-params';
import type { GenerateOptions, GenerationResult } from '../model/generation';
import { KvCache } from '../model/kv-cache';
import { loraTargetsOf } from '../model/lora-inputs';
import { PrefixState, prefixTokenFeature, type PrefixScope } from '../model/meteora-prefix';
import { declareMeteora, meteoraExpertFeeds, meteoraNames } from '../model/meteora-wiring';
import { checkSamplingOptions, sampleToken, type SamplingOptions } from '../model/sampling';
import { declareXCross, xcrossAdapterFeeds, xcrossNames } from '../model/xcross-wiring';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { Rng } from '../util/rng';
import { declareFlyLora, flyLoraFeeds, flyLoraFromArtifact, type FlyLoraAdapter } from './flylora';
import { meteoraGateFeeds, meteoraGatesOf, meteoraPrefixGatesOf, meteoraPrefixScopeOf } from './meteora-train';
import type { RouterArtifact, RouterKind } from './router-artifact';

export interface RoutedModelOptions {
  /** onnxruntime device (default cpu). */
  readonly device?: string;
  readonly intraOpThreads?: number;
}

/** What the router did for one request row, over every position the model read (prompt + fed-back tokens). */
export interface RouterGateStats {
  readonly strategy: RouterKind;
  /** Expert adapters (MeteoRA experts, X-Cross streams) or FlyLoRA's source tasks, "name@version". */
  readonly experts: readonly string[];
  /** Token positions counted. */
  readonly tokens: number;
  /** MeteoRA: mean mixing weight of each expert over (token, gated module) pairs. */
  readonly meanGateWeight?: readonly number[];
  /** MeteoRA: how many (token, gated module) pairs put each expert in their top-k. */
  readonly topKCounts?: readonly number[];
  /** MeteoRA: gated modules per token. */
  readonly gatedModules?: number;
  /**
   * FlyLoRA: share of the selected rank activations (Σ |y_i| over selected ranks) carried by each
   * rank block; with blocks = source tasks (adapters merged with different A) it says which
   * task's ranks fired. One entry per block.
   */
  readonly blockShare?: readonly number[];
  /** X-Cross: the learned stream output weights w. */
  readonly streamWeights?: readonly number[];
  /** X-Cross: Frobenius norm of each layer's fusion matrix W_cat (0 = streams independent there). */
  readonly fusionNorms?: readonly number[];
}

export interface RoutedGenerateOptions extends Omit<GenerateOptions, 'lora'> {
  /**
   * Per-row sampling and seed (a server batching unrelated requests): row b samples with
   * rows[b].sampling from Rng(rows[b].seed), exactly as it would alone with that seed. Rows
   * without an entry use the shared options and seed + b.
   */
  readonly rows?: readonly ({ readonly sampling?: SamplingOptions; readonly seed?: number } | undefined)[];
  /** Called after each forward pass with the rows it ran (a server's batch metrics). */
  readonly onStep?: (rows: number) => void;
}

export interface RoutedGenerationResult extends GenerationResult {
  readonly stats: RouterGateStats;
}

const OUT = {
  logits: 'logits',
  newKey: (l: number): string => `new.${l}.key`,
  newValue: (l: number): string => `new.${l}.value`,
  gateWeight: 'stats.gate_weight',
  gateSelected: 'stats.gate_selected',
  blockActivation: 'stats.block_activation',
} as const;

type Mode = 'forward' | 'decode';

/** A base model with one router artifact (and its expert adapters) wired in. */
export class RoutedModel {
  private readonly sessions = new Map<Mode, Promise<CompiledGraph>>();
  private readonly fixedFeeds: Record<string, KernelTensor>;
  private readonly staticStats: Partial<RouterGateStats>;
  private readonly flyLora: FlyLoraAdapter | undefined;
  /** Cache rows per request row: n for X-Cross, else 1. */
  readonly streams: number;
  /** MeteoRA's prefix feature scope (undefined without a prefix gate). */
  private readonly prefixScope: PrefixScope | undefined = undefined;

  private constructor(
    readonly config: ModelConfig,
    private readonly weights: ReadonlyMap<string, HostTensor>,
    readonly artifact: RouterArtifact,
    experts: readonly LoraWeights[],
    private readonly options: RoutedModelOptions,
  ) {
    const m = artifact.manifest;
    const sites = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
    for (const p of m.targets) {
      if (!sites.has(p)) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `router targets ${p}, which is not a linear module of this ${config.family} decoder`);
    }
    if (m.kind === 'flylora') {
      this.flyLora = flyLoraFromArtifact(artifact);
      this.streams = 1;
      this.fixedFeeds = flyLoraFeeds(this.flyLora);
      this.staticStats = {};
      return;
    }
    this.flyLora = undefined;
    if (experts.length !== m.experts.length) {
      throw new PeftCoreError('INVALID_ARGUMENT', `the ${m.kind} router names ${m.experts.length} expert adapters (${m.experts.join(', ')}); ${experts.length} were given`);
    }
    const targets = loraTargetsOf(config, experts);
    if (targets.paths.join('|') !== m.targets.join('|')) {
      throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `the expert adapters adapt [${targets.paths.join(', ')}], the ${m.kind} router was trained on [${m.targets.join(', ')}]`);
    }
    if (m.kind === 'meteora') {
      this.streams = 1;
      const V = m.hyperparameters.prefixTokens;
      if (V !== undefined && V !== config.vocabSize) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `the MeteoRA router's prefix gate covers ${V} tokens; this base has a vocabulary of ${config.vocabSize}`);
      this.fixedFeeds = { ...meteoraExpertFeeds(config, targets, experts), ...meteoraGateFeeds(meteoraGatesOf(artifact), meteoraPrefixGatesOf(artifact)) };
      this.prefixScope = meteoraPrefixScopeOf(artifact);
      this.staticStats = {};
      return;
    }
    const n = m.hyperparameters.streams;
    const layers = [...artifact.tensors.keys()].filter((k) => /^layers\.\d+\.w_cat$/.test(k)).length;
    if (layers !== config.numLayers) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `the X-Cross router has fusion for ${layers} layers; this base has ${config.numLayers}`);
    const feeds: Record<string, KernelTensor> = { ...xcrossAdapterFeeds(config, targets, experts) };
    const fusionNorms: number[] = [];
    for (let l = 0; l < layers; l++) {
      const w = artifact.tensors.get(`layers.${l}.w_cat`)!;
      if (w.shape[1] !== n * config.hiddenSize) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `X-Cross W_cat of layer ${l} is [${w.shape.join(', ')}]; this base needs [${2 * n * (n - 1)}, ${n * config.hiddenSize}]`);
      feeds[xcrossNames.fusion(l)] = tensorData('float32', [...w.shape], w.data);
      fusionNorms.push(Math.sqrt(w.data.reduce((a, x) => a + x * x, 0)));
    }
    const w = artifact.tensors.get('stream_weights')!;
    feeds[xcrossNames.streamWeights] = tensorData('float32', [n], w.data);
    this.streams = n;
    this.fixedFeeds = feeds;
    this.staticStats = { streamWeights: Array.from(w.data), fusionNorms };
  }

  /**
   * `experts`: the adapters the manifest names, in its order (MeteoRA experts, X-Cross streams).
   * A FlyLoRA artifact carries its own tensors and needs none.
   */
  static create(
    checkpoint: { readonly config: ModelConfig; readonly weights: ReadonlyMap<string, HostTensor> },
    artifact: RouterArtifact,
    experts: readonly LoraWeights[] = [],
    options: RoutedModelOptions = {},
  ): RoutedModel {
    return new RoutedModel(checkpoint.config, checkpoint.weights, artifact, experts, options);
  }

  get kind(): RouterKind {
    return this.artifact.manifest.kind;
  }

  /**
   * Logits [batch, seq, vocab] of equal-length rows, recomputed from scratch (no cache). The first
   * `promptLengths[b]` tokens of row b are its prompt, handed at once (default: the whole row, as
   * generate's prefill takes it); the rest are taken as generated (MeteoRA's prefix feature).
   */
  async forward(tokens: readonly (readonly number[])[], o: { readonly promptLengths?: readonly number[] } = {}): Promise<HostTensor> {
    this.checkTokens(tokens);
    const session = await this.session('forward');
    const promptLengths = o.promptLengths ?? tokens.map((r) => r.length);
    const rows = this.expand(tokens.map((r) => [...r]));
    const out = await session.run(this.pick(session, { ...this.fixedFeeds, ...this.prefixFeeds(rows, { promptLengths: this.expand(promptLengths) }), ...stepFeeds({ tokens: rows }) }), [OUT.logits]);
    const logits = out[OUT.logits]!;
    return hostTensor([...logits.shape] as number[], logits.data as Float32Array);
  }

  /**
   * Generates from a batch of prompts (any lengths, left-padded) with the KV cache; the same
   * options and sampling streams as LlamaModel.generate (row b samples from Rng(seed + b)).
   */
  async generate(prompts: readonly (readonly number[])[], options: RoutedGenerateOptions): Promise<RoutedGenerationResult[]> {
    this.checkTokens(prompts);
    checkSamplingOptions(options);
    for (const r of options.rows ?? []) if (r?.sampling) checkSamplingOptions(r.sampling);
    if (!(Number.isInteger(options.maxNewTokens) && options.maxNewTokens >= 0)) {
      throw new PeftCoreError('INVALID_ARGUMENT', `maxNewTokens must be a non-negative integer, got ${options.maxNewTokens}`);
    }
    const config = this.config;
    const s = this.streams;
    const stopIds = new Set(options.stopTokenIds ?? defaultStopIds(config));
    const seed = options.seed ?? 0;
    const rngs = prompts.map((_, b) => new Rng(options.rows?.[b]?.seed ?? seed + b));
    const sampling = prompts.map((_, b) => options.rows?.[b]?.sampling ?? options);
    const generated: number[][] = prompts.map(() => []);
    const reasons: (GenerationResult['finishReason'] | undefined)[] = prompts.map(() => undefined);
    const stats = prompts.map(() => new RowStats(this.statWidth()));
    const finish = (): RoutedGenerationResult[] =>
      generated.map((tokens, b) => ({ tokens, finishReason: reasons[b] ?? 'length', stats: this.rowStats(stats[b]!) }));
    if (options.maxNewTokens === 0) return finish();

    const session = await this.session('decode');
    const padded = leftPad(prompts, options.padTokenId ?? 0);
    const width = padded.tokens[0]!.length;
    const cache = new KvCache(config.numLayers, prompts.length * s, config.numKvHeads, config.headDim, width + options.maxNewTokens);
    let rows = prompts.map((_, b) => b);
    let keyPadding = padded.keyPadding;
    let step = { tokens: padded.tokens, positions: padded.positions };
    const statOutputs = this.statOutputs();
    // What each request's prefix gate feature has seen so far (padding excluded).
    const prefixStates = prompts.map(() => new PrefixState(this.prefixScope ?? { kind: 'sequence' }));

    for (let n = 0; n < options.maxNewTokens; n++) {
      const seq = step.tokens[0]!.length;
      const out = await session.run(
        this.pick(session, {
          ...this.fixedFeeds,
          ...cache.feeds(),
          ...this.prefixFeeds(step.tokens, {
            real: keyPadding.map((r) => r.slice(-seq)),
            state: rows.map((row) => prefixStates[row]!),
            // The first step is the whole (left-padded) prompt.
            ...(n === 0 ? { promptLengths: step.tokens.map(() => seq) } : {}),
          }),
          ...stepFeeds({ tokens: this.expand(step.tokens), positions: this.expand(step.positions), pastLength: cache.length, keyPadding: this.expand(keyPadding), withKeySlots: true }),
        }),
      );
      options.onStep?.(rows.length);
      cache.append(
        Array.from({ length: config.numLayers }, (_, l) => out[OUT.newKey(l)]!.data as Float32Array),
        Array.from({ length: config.numLayers }, (_, l) => out[OUT.newValue(l)]!.data as Float32Array),
        seq,
      );
      // Statistics over this step's real positions (prefill padding excluded).
      rows.forEach((row, i) => {
        const real = keyPadding[i]!.slice(-seq);
        stats[row]!.add(statOutputs.map((name) => out[name]!.data as Float32Array), i, seq, real);
      });
      const logits = out[OUT.logits]!.data as Float32Array; // [rows, 1, vocab]
      const V = config.vocabSize;
      const keep: number[] = [];
      rows.forEach((row, i) => {
        const rowLogits = logits.subarray(i * V, (i + 1) * V);
        options.onLogits?.(row, rowLogits);
        const token = sampleToken(rowLogits, sampling[row]!, rngs[row]!);
        if (stopIds.has(token)) reasons[row] = 'stop';
        else {
          generated[row]!.push(token);
          if (options.shouldStop?.(row, generated[row]!)) reasons[row] = 'callback';
        }
        if (reasons[row] === undefined) keep.push(i);
      });
      if (keep.length === 0) break;
      if (keep.length < rows.length) {
        cache.keepRows(keep.flatMap((i) => Array.from({ length: s }, (_, m) => i * s + m)));
        keyPadding = keep.map((i) => keyPadding[i]!);
      }
      rows = keep.map((i) => rows[i]!);
      keyPadding = keyPadding.map((r) => [...r, 1]);
      step = {
        tokens: rows.map((row) => [generated[row]!.at(-1)!]),
        positions: rows.map((row) => [prompts[row]!.length + generated[row]!.length - 1]),
      };
    }
    return finish();
  }

  /** The prefix-token feature when the router's gates use it (else nothing). */
  private prefixFeeds(tokens: readonly (readonly number[])[], o: Parameters<typeof prefixTokenFeature>[2]): Record<string, KernelTensor> {
    const m = this.artifact.manifest;
    if (m.kind !== 'meteora' || m.hyperparameters.prefixTokens === undefined) return {};
    return { [meteoraNames.prefix]: prefixTokenFeature(tokens, m.hyperparameters.prefixTokens, { ...o, ...(this.prefixScope ? { scope: this.prefixScope } : {}) }) };
  }

  /** Releases the compiled sessions (they compile again on next use). */
  async dispose(): Promise<void> {
    const pending = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of pending) await (await s.catch(() => undefined))?.dispose();
  }

  /** Request rows → cache rows: each repeated once per stream (row b·s + m), as X-Cross stacks them. */
  private expand<T>(rows: readonly T[]): T[] {
    return this.streams === 1 ? [...rows] : rows.flatMap((r) => Array.from({ length: this.streams }, () => r));
  }

  private statWidth(): number {
    const m = this.artifact.manifest;
    return m.kind === 'meteora' ? m.experts.length : m.kind === 'flylora' ? m.hyperparameters.blocks : 0;
  }

  private statOutputs(): string[] {
    const kind = this.kind;
    return kind === 'meteora' ? [OUT.gateWeight, OUT.gateSelected] : kind === 'flylora' ? [OUT.blockActivation] : [];
  }

  private rowStats(row: RowStats): RouterGateStats {
    const m = this.artifact.manifest;
    const common = { strategy: m.kind, experts: [...m.experts], tokens: row.tokens, ...this.staticStats };
    if (m.kind === 'meteora') {
      const modules = m.targets.length;
      return {
        ...common,
        gatedModules: modules,
        meanGateWeight: Array.from(row.sum(0), (v) => (row.tokens > 0 ? v / (row.tokens * modules) : 0)),
        topKCounts: Array.from(row.sum(1), (v) => Math.round(v)),
      };
    }
    if (m.kind === 'flylora') {
      const total = row.sum(0).reduce((a, b) => a + b, 0);
      return { ...common, blockShare: Array.from(row.sum(0), (v) => (total > 0 ? v / total : 0)) };
    }
    return common;
  }

  private session(mode: Mode): Promise<CompiledGraph> {
    let session = this.sessions.get(mode);
    if (session === undefined) {
      session = compile(this.buildGraph(mode), {
        ...(this.options.device !== undefined ? { device: this.options.device } : {}),
        ...(this.options.intraOpThreads !== undefined ? { intraOpThreads: this.options.intraOpThreads } : {}),
      });
      this.sessions.set(mode, session);
      session.catch(() => this.sessions.delete(mode));
    }
    return session;
  }

  private buildGraph(mode: Mode): Graph {
    const g = new Graph();
    const config = this.config;
    const m = this.artifact.manifest;
    const decode = mode === 'decode';
    const params = declareDecoderParams(g, config, this.weights);
    const inputs =
      this.streams > 1 ? declareStreamInputs(g, config, this.streams, decode) : declareDecoderInputs(g, config, decode ? { padding: true, kvCache: true } : {});
    const targets = { paths: m.targets };
    const stats: Array<[string, Value]> = [];
    let out;
    if (m.kind === 'meteora') {
      const { wiring } = declareMeteora(g, config, targets, {
        experts: m.experts.length,
        topK: m.hyperparameters.topK,
        temperature: m.hyperparameters.temperature,
        ...(m.hyperparameters.prefixTokens !== undefined ? { prefixTokens: m.hyperparameters.prefixTokens } : {}),
      });
      out = buildDecoderForward(g, config, params, inputs, wiring, { logits: decode ? 'last' : 'all' });
      const weights = wiring.gateRecords.map((r) => r.weights);
      stats.push([OUT.gateWeight, g.sum(weights)]);
      stats.push([OUT.gateSelected, g.sum(weights.map((w) => g.cast(g.greater(w, 0), 'float32')))]);
    } else if (m.kind === 'flylora') {
      const { wiring } = declareFlyLora(g, this.flyLora!);
      out = buildDecoderForward(g, config, params, inputs, wiring, { logits: decode ? 'last' : 'all' });
      const { rank, blocks } = m.hyperparameters;
      const perModule = wiring.routeRecords.map((r) => {
        const kept = g.mul(r.projected, r.mask);
        const magnitude = g.add(g.relu(kept), g.relu(g.neg(kept))); // |y ⊙ 1_I|
        const [batch, seq] = r.projected.shape as [number | string, number | string];
        return g.reduceSum(g.reshape(magnitude, [batch, seq, blocks, rank / blocks]), [3]); // [batch, seq, blocks]
      });
      stats.push([OUT.blockActivation, g.sum(perModule)]);
    } else {
      const { wiring } = declareXCross(g, config, targets, { streams: this.streams, beta: m.hyperparameters.beta, gamma: m.hyperparameters.gamma });
      out = buildDecoderForward(g, config, params, inputs, wiring, { logits: decode ? 'last' : 'all' });
    }
    g.output(OUT.logits, out.logits);
    if (decode) {
      out.newKv.forEach((kv, l) => {
        g.output(OUT.newKey(l), kv.key);
        g.output(OUT.newValue(l), kv.value);
      });
      for (const [name, v] of stats) g.output(name, v);
    }
    return g;
  }

  private pick(session: CompiledGraph, all: Record<string, KernelTensor>): Record<string, KernelTensor> {
    const feeds: Record<string, KernelTensor> = {};
    for (const name of session.inputNames) {
      const t = all[name];
      if (t === undefined) throw new PeftCoreError('GRAPH_INVALID', `routed ${this.kind} graph wants an input '${name}' that is not fed`);
      feeds[name] = t;
    }
    return feeds;
  }

  private checkTokens(tokens: readonly (readonly number[])[]): void {
    const V = this.config.vocabSize;
    if (tokens.length === 0 || tokens.some((row) => row.length === 0)) throw new PeftCoreError('INVALID_ARGUMENT', 'tokens must be a non-empty batch of non-empty rows');
    for (const [b, row] of tokens.entries()) {
      for (const id of row) {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new PeftCoreError('INVALID_ARGUMENT', `token id ${id} in row ${b} is outside the vocabulary [0, ${V})`);
      }
    }
  }
}

/** Per-row sums of [rows, seq, width] statistic outputs over real positions. */
class RowStats {
  tokens = 0;
  readonly sums: Float64Array[] = [];

  constructor(private readonly width: number) {}

  /** Sums of statistic output k (zeros when no step ran). */
  sum(k: number): Float64Array {
    return this.sums[k] ?? new Float64Array(this.width);
  }

  add(outputs: readonly Float32Array[], row: number, seq: number, real: readonly number[]): void {
    const w = this.width;
    outputs.forEach((data, k) => {
      const sum = (this.sums[k] ??= new Float64Array(w));
      for (let t = 0; t < seq; t++) {
        if (!real[t]) continue;
        const at = (row * seq + t) * w;
        for (let j = 0; j < w; j++) sum[j]! += data[at + j]!;
      }
    });
    this.tokens += real.reduce((a, v) => a + (v ? 1 : 0), 0);
  }
}

/**
 * Decoder inputs for n stacked streams (X-Cross) with, for decoding, key padding and a KV cache
 * whose batch axis is the n·rows stream rows.
 */
function declareStreamInputs(g: Graph, config: ModelConfig, streams: number, kvCache: boolean): DecoderInputs {
  const rows = `${streams}*xcross_rows`;
  const n = DECODER_INPUT_NAMES;
  const tokens = g.input(n.tokens, 'int64', [rows, 'seq']);
  const positions = g.input(n.positions, 'int64', [rows, 'seq']);
  const querySlots = g.input(n.querySlots, 'int64', ['seq']);
  if (!kvCache) return { tokens, positions, querySlots };
  return {
    tokens,
    positions,
    querySlots,
    keySlots: g.input(n.keySlots, 'int64', ['keys']),
    keyPadding: g.input(n.keyPadding, 'int64', [rows, 'keys']),
    pastKv: Array.from({ length: config.numLayers }, (_, l) => ({
      key: g.input(n.pastKey(l), 'float32', ['past', rows, config.numKvHeads, config.headDim]),
      value: g.input(n.pastValue(l), 'float32', ['past', rows, config.numKvHeads, config.headDim]),
    })),
  };
}

function defaultStopIds(config: ModelConfig): number[] {
  const eos = config.eosTokenId;
  return eos === undefined ? [] : Array.isArray(eos) ? eos : [eos];
}
