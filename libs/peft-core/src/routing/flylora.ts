/**
 * FlyLoRA adapters on the host: the sparse random A, the load-balancing rule for d, training of B
 * (train/ data pipeline + the shared AdamW loop), merging task adapters, and the router artifact.
 * The graph side is model/flylora-wiring.ts.
 */
import type { KernelTensor } from '@palette/gpu-kernels';
import { PeftCoreError } from '../errors';
import { LINEAR_MODULES, type LinearModule, type ModelConfig } from '../formats/model-config';
import { layerModulePath, linearShape } from '../formats/model-modules';
import { gradients } from '../graph/autodiff';
import { compile } from '../graph/compile';
import { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import type { Value } from '../graph/value';
import { buildDecoderForward } from '../model/decoder';
import { declareDecoderInputs, stepFeeds } from '../model/decoder-inputs';
import { declareDecoderParams } from '../model/decoder-params';
import { flyLoraNames, FlyLoraWiring, type FlyLoraSlot } from '../model/flylora-wiring';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { BatchSampler, collate, type TokenizedExample } from '../train/data';
import { causalLmLoss } from '../train/loss';
import { Rng } from '../util/rng';
import { optimize, type OptimizeOptions, type OptimizeRun } from './optimize';
import { createRouterArtifact, type RouterArtifact } from './router-artifact';

export interface FlyLoraModule {
  /** [r, in], frozen sparse random. */
  readonly A: HostTensor;
  /** [out, r], trained. */
  readonly B: HostTensor;
  /** [r], the selection bias (load balancing). */
  readonly d: Float32Array;
}

export interface FlyLoraAdapter {
  readonly rank: number;
  readonly topK: number;
  readonly alpha: number;
  /** Rank blocks with their own top-k (1 for a trained adapter, n after merging n with different A). */
  readonly blocks: number;
  /** Keyed by module path, in model order. */
  readonly modules: ReadonlyMap<string, FlyLoraModule>;
}

export interface FlyLoraSpec {
  /** Reference setting r = 32, k = 8, α = 64. */
  readonly rank: number;
  readonly topK: number;
  readonly alpha: number;
  /** Default: all seven projections. */
  readonly targetModules?: readonly LinearModule[];
  readonly seed: number;
}

/** The load-balancing step size u of the paper. */
export const FLYLORA_BIAS_STEP = 0.001;

/**
 * A [r, n]: each row has p = n / (r/k) = n·k/r non-zeros at distinct random columns, drawn from
 * N(0, 1/r²). [inferred] p is rounded to the nearest integer and clamped to [1, n].
 */
export function sparseRandomA(rng: Rng, rank: number, inFeatures: number, topK: number): HostTensor {
  const p = Math.min(inFeatures, Math.max(1, Math.round((inFeatures * topK) / rank)));
  const data = new Float32Array(rank * inFeatures);
  const columns = Array.from({ length: inFeatures }, (_, c) => c);
  for (let i = 0; i < rank; i++) {
    rng.shuffle(columns);
    for (let j = 0; j < p; j++) data[i * inFeatures + columns[j]!] = rng.normal() / rank;
  }
  return hostTensor([rank, inFeatures], data);
}

/** A fresh FlyLoRA adapter: sparse random A per module, B = 0, d = 0. */
export function createFlyLora(config: ModelConfig, spec: FlyLoraSpec): FlyLoraAdapter {
  const { rank, topK } = spec;
  if (!Number.isInteger(rank) || rank < 1 || !Number.isInteger(topK) || topK < 1 || topK > rank) {
    throw new PeftCoreError('INVALID_ARGUMENT', `FlyLoRA: need integers 1 ≤ topK ≤ rank, got rank ${rank}, topK ${topK}`);
  }
  const rng = new Rng(spec.seed);
  const modules = new Map<string, FlyLoraModule>();
  for (let l = 0; l < config.numLayers; l++) {
    for (const m of LINEAR_MODULES) {
      if (spec.targetModules !== undefined && !spec.targetModules.includes(m)) continue;
      const [out, inF] = linearShape(config, m);
      modules.set(layerModulePath(l, m), { A: sparseRandomA(rng, rank, inF, topK), B: hostTensor([out, rank]), d: new Float32Array(rank) });
    }
  }
  if (modules.size === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'FlyLoRA: no target modules');
  return { rank, topK, alpha: spec.alpha, blocks: 1, modules };
}

/**
 * The load-balancing rule, in place: d_i ← d_i + u · sign(mean(c) − c_i), c_i the tokens routed
 * to rank i in the batch. Under-used ranks get a higher bias, over-used ones a lower.
 */
export function updateFlyLoraBias(d: Float32Array, counts: ArrayLike<number>, u = FLYLORA_BIAS_STEP): void {
  if (counts.length !== d.length) throw new PeftCoreError('SHAPE_MISMATCH', `FlyLoRA bias update: ${counts.length} counts for ${d.length} ranks`);
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  const mean = total / counts.length;
  for (let i = 0; i < d.length; i++) d[i] = d[i]! + u * Math.sign(mean - counts[i]!);
}

export interface DeclaredFlyLora {
  readonly wiring: FlyLoraWiring;
  /** B per module in module order (the trained set). */
  readonly B: readonly Value[];
}

/** Declares A, B, d of every module as graph inputs (and token weights for the routing counts). */
export function declareFlyLora(g: Graph, adapter: FlyLoraAdapter, options: { tokenWeights?: boolean; dtype?: 'float32' | 'float64' } = {}): DeclaredFlyLora {
  const dtype = options.dtype ?? 'float32';
  const slots = new Map<string, FlyLoraSlot>();
  const B: Value[] = [];
  for (const [path, m] of adapter.modules) {
    const slot = {
      A: g.input(flyLoraNames.A(path), dtype, [...m.A.shape]),
      B: g.input(flyLoraNames.B(path), dtype, [...m.B.shape]),
      bias: g.input(flyLoraNames.bias(path), dtype, [adapter.rank]),
    };
    slots.set(path, slot);
    B.push(slot.B);
  }
  const tokenWeights = options.tokenWeights ? g.input(flyLoraNames.tokenWeights, dtype, ['batch', 'seq']) : undefined;
  const wiring = new FlyLoraWiring(slots, { topK: adapter.topK, scaling: adapter.alpha / adapter.rank, blocks: adapter.blocks, ...(tokenWeights ? { tokenWeights } : {}) });
  return { wiring, B };
}

/** Feeds for A, B and d of every module (zero-copy views). */
export function flyLoraFeeds(adapter: FlyLoraAdapter): Record<string, KernelTensor> {
  const feeds: Record<string, KernelTensor> = {};
  for (const [path, m] of adapter.modules) {
    feeds[flyLoraNames.A(path)] = tensorData('float32', [...m.A.shape], m.A.data);
    feeds[flyLoraNames.B(path)] = tensorData('float32', [...m.B.shape], m.B.data);
    feeds[flyLoraNames.bias(path)] = tensorData('float32', [m.d.length], m.d);
  }
  return feeds;
}

export interface TrainFlyLoraOptions extends OptimizeOptions, OptimizeRun {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
  /** A fresh adapter from createFlyLora (trained in place: B and d change). */
  readonly adapter: FlyLoraAdapter;
  /** Tokenized rows (train/data's tokenizeExample). */
  readonly train: readonly TokenizedExample[];
  readonly batchSize: number;
  readonly seed: number;
  readonly padId?: number;
  /** Load-balancing step u (default 0.001). */
  readonly biasStep?: number;
  readonly device?: string;
  readonly intraOpThreads?: number;
}

export interface TrainFlyLoraResult {
  readonly status: 'completed' | 'aborted';
  readonly adapter: FlyLoraAdapter;
  readonly losses: readonly number[];
  /** Coefficient of variation of the per-rank routing counts in the last step, mean over modules. */
  readonly finalLoadImbalance: number;
}

/**
 * Trains B of every module on a causal-LM objective (A frozen), updating d after every step from
 * that step's routing counts over real (non-padding) tokens.
 */
export async function trainFlyLora(o: TrainFlyLoraOptions): Promise<TrainFlyLoraResult> {
  if (o.train.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'FlyLoRA training: no training rows');
  const g = new Graph();
  const params = declareDecoderParams(g, o.config, o.weights);
  const inputs = declareDecoderInputs(g, o.config);
  const targets = g.input('targets', 'int64', inputs.tokens.shape);
  const fly = declareFlyLora(g, o.adapter, { tokenWeights: true });
  const { logits } = buildDecoderForward(g, o.config, params, inputs, fly.wiring);
  const loss = g.output('loss', causalLmLoss(g, logits, targets));
  const paths = [...o.adapter.modules.keys()];
  gradients(g, loss, fly.B).forEach((d, i) => g.output(`grad:${paths[i]}`, d));
  for (const r of fly.wiring.routeRecords) g.output(flyLoraNames.counts(r.path), r.counts);
  const session = { ...(o.device !== undefined ? { device: o.device } : {}), ...(o.intraOpThreads !== undefined ? { intraOpThreads: o.intraOpThreads } : {}) };
  const step = await compile(g, session);
  try {
    const seqLen = Math.max(2, ...o.train.map((r) => r.ids.length));
    const padId = o.padId ?? 0;
    const sampler = new BatchSampler(o.train.length, Math.min(o.batchSize, o.train.length), o.seed);
    const trained = new Map(paths.map((p) => [p, o.adapter.modules.get(p)!.B.data]));
    let imbalance = 0;
    const result = await optimize(
      trained,
      o,
      async () => {
        const rows = sampler.next().map((i) => o.train[i]!);
        const batch = collate(rows, seqLen, padId);
        const tokens = rows.map((_, b) => Array.from(batch.inputIds.subarray(b * seqLen, (b + 1) * seqLen), Number));
        const real = new Float32Array(rows.length * seqLen);
        rows.forEach((r, b) => real.fill(1, b * seqLen, b * seqLen + Math.min(r.ids.length, seqLen)));
        const all: Record<string, KernelTensor> = {
          ...stepFeeds({ tokens }),
          targets: tensorData('int64', [rows.length, seqLen], batch.targets),
          [flyLoraNames.tokenWeights]: tensorData('float32', [rows.length, seqLen], real),
          ...flyLoraFeeds(o.adapter),
        };
        const out = await step.run(Object.fromEntries(step.inputNames.map((n) => [n, all[n]!])));
        imbalance = 0;
        for (const p of paths) {
          const counts = out[flyLoraNames.counts(p)]!.data as Float32Array;
          imbalance += coefficientOfVariation(counts) / paths.length;
          updateFlyLoraBias(o.adapter.modules.get(p)!.d, counts, o.biasStep ?? FLYLORA_BIAS_STEP);
        }
        const grads = new Map(paths.map((p) => [p, out[`grad:${p}`]!.data as Float32Array]));
        return { loss: Number(out.loss!.data[0]), grads, metrics: { loadImbalance: imbalance } };
      },
      o,
    );
    return { status: result.status, adapter: o.adapter, losses: result.losses, finalLoadImbalance: imbalance };
  } finally {
    await step.dispose();
  }
}

function coefficientOfVariation(c: Float32Array): number {
  const mean = c.reduce((a, b) => a + b, 0) / c.length;
  if (mean === 0) return 0;
  const variance = c.reduce((a, b) => a + (b - mean) ** 2, 0) / c.length;
  return Math.sqrt(variance) / mean;
}

/**
 * Merges FlyLoRA adapters trained on different tasks into one, as the average of their outputs.
 * - Same A everywhere (one seed): B and d are averaged — plain parameter averaging.
 * - Different random A (ALGORITHMS.md's case): B_i only means something next to its own A_i, so
 *   averaging B's alone would pair task i's B with another task's projection. The merge keeps
 *   each task's A as one block, A = [A_1; …; A_n], B = [B_1 … B_n] / n, d = [d_1; …; d_n], with a
 *   top-k per block: exactly (1/n) Σ_i FlyLoRA_i(x), i.e. the B's are averaged in the sense that
 *   each task keeps weight 1/n, and the near-orthogonal random A's keep tasks apart.
 * Ranks, top-k, α, blocks and target modules must agree.
 */
export function mergeFlyLoraAdapters(adapters: readonly FlyLoraAdapter[]): FlyLoraAdapter {
  if (adapters.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'FlyLoRA merge: no adapters');
  const first = adapters[0]!;
  for (const [i, a] of adapters.entries()) {
    if (a.rank !== first.rank || a.topK !== first.topK || a.alpha !== first.alpha || a.blocks !== first.blocks) {
      throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `FlyLoRA merge: adapter ${i} has rank ${a.rank}, top-k ${a.topK}, α ${a.alpha}, ${a.blocks} blocks; adapter 0 has ${first.rank}, ${first.topK}, ${first.alpha}, ${first.blocks}`);
    }
    const paths = [...a.modules.keys()];
    if (paths.length !== first.modules.size || paths.some((p) => !first.modules.has(p))) {
      throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `FlyLoRA merge: adapter ${i} targets different modules than adapter 0`);
    }
  }
  const n = adapters.length;
  const sharedA = [...first.modules.keys()].every((p) => adapters.every((a) => sameData(a.modules.get(p)!.A.data, first.modules.get(p)!.A.data)));
  const modules = new Map<string, FlyLoraModule>();
  for (const [path, m0] of first.modules) {
    const parts = adapters.map((a) => a.modules.get(path)!);
    if (sharedA) {
      const B = new Float32Array(m0.B.data.length);
      const d = new Float32Array(m0.d.length);
      for (const p of parts) {
        for (let i = 0; i < B.length; i++) B[i]! += p.B.data[i]! / n;
        for (let i = 0; i < d.length; i++) d[i]! += p.d[i]! / n;
      }
      modules.set(path, { A: m0.A, B: hostTensor([...m0.B.shape], B), d });
      continue;
    }
    const [out, r] = m0.B.shape as [number, number];
    const inF = m0.A.shape[1]!;
    const A = new Float32Array(n * r * inF);
    const B = new Float32Array(out * n * r);
    const d = new Float32Array(n * r);
    parts.forEach((p, i) => {
      A.set(p.A.data, i * r * inF);
      d.set(p.d, i * r);
      for (let o = 0; o < out; o++) for (let q = 0; q < r; q++) B[o * n * r + i * r + q] = p.B.data[o * r + q]! / n;
    });
    modules.set(path, { A: hostTensor([n * r, inF], A), B: hostTensor([out, n * r], B), d });
  }
  return sharedA ? { ...first, modules } : { rank: n * first.rank, topK: first.topK, alpha: n * first.alpha, blocks: n * first.blocks, modules };
}

function sameData(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** The adapter as a router artifact (kind 'flylora'); `sources` are the task adapters it came from. */
export function flyLoraArtifact(adapter: FlyLoraAdapter, meta: { baseModel: string; sources: readonly string[]; metrics?: Readonly<Record<string, number>> }): RouterArtifact {
  const tensors = new Map<string, HostTensor>();
  for (const [p, m] of adapter.modules) {
    tensors.set(`${p}.A`, m.A);
    tensors.set(`${p}.B`, m.B);
    tensors.set(`${p}.d`, hostTensor([m.d.length], m.d));
  }
  return createRouterArtifact(
    {
      kind: 'flylora',
      baseModel: meta.baseModel,
      experts: [...meta.sources],
      targets: [...adapter.modules.keys()],
      hyperparameters: { rank: adapter.rank, topK: adapter.topK, alpha: adapter.alpha, blocks: adapter.blocks },
      metrics: meta.metrics ?? {},
    },
    tensors,
  );
}

export function flyLoraFromArtifact(artifact: RouterArtifact): FlyLoraAdapter {
  const m = artifact.manifest;
  if (m.kind !== 'flylora') throw new PeftCoreError('INVALID_ARGUMENT', `expected a FlyLoRA artifact, got ${m.kind}`);
  const modules = new Map<string, FlyLoraModule>();
  for (const p of m.targets) {
    modules.set(p, { A: artifact.tensors.get(`${p}.A`)!, B: artifact.tensors.get(`${p}.B`)!, d: artifact.tensors.get(`${p}.d`)!.data });
  }
  return { ...m.hyperparameters, modules };
}
