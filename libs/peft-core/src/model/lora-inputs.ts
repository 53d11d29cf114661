import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import type { Value } from '../graph/value';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { decoderLinearSites } from './decoder';
import { DensePoolLoraWiring, PoolLoraWiring, RowLoraWiring, type PoolLoraSlot, SingleLoraWiring, type SingleLoraSlot, type LinearSite } from './lora-wiring';

/**
 * Graph inputs for LoRA adapters and the host tensors that feed them. Ranks are symbolic (one
 * symbol per module), so one compiled graph serves every adapter with the same target modules:
 * switching adapters is a matter of feeds, never a recompile.
 */

/** Which modules a LoRA graph adapts; fixes the graph inputs. */
export interface LoraTargets {
  /** Module paths in model order, e.g. 'model.layers.0.self_attn.q_proj'. */
  readonly paths: readonly string[];
}

/** The module paths an adapter adapts, in model order; throws for modules the decoder lacks or DoRA. */
export function loraTargetsOf(config: ModelConfig, adapters: readonly LoraWeights[]): LoraTargets {
  const sites = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
  const wanted = new Set<string>();
  for (const adapter of adapters) {
    for (const module of adapter.modules.values()) {
      checkModule(module, sites.get(module.path));
      wanted.add(module.path);
    }
  }
  return { paths: [...sites.keys()].filter((p) => wanted.has(p)) };
}

/** A canonical key for a target set (session caches use it). */
export function loraTargetsKey(targets: LoraTargets): string {
  return targets.paths.join('|');
}

export interface SingleLoraInputs {
  readonly wiring: SingleLoraWiring;
  readonly targets: LoraTargets;
  /** The A and B values in target order (A₀, B₀, A₁, B₁, …): what a trainer differentiates. */
  readonly trainable: readonly Value[];
}

export interface DeclareSingleLoraOptions {
  /**
   * A fixed scaling for every module (training a fresh adapter: alpha/r), or 'fed': one float32
   * scalar input per module (`lora.<path>.scaling`), so adapters with any alpha share a graph.
   */
  readonly scaling: number | 'fed';
  /** Fixed rank for every module (training); default: a symbolic rank per module. */
  readonly rank?: number;
}

/** Declares `lora.<path>.A` [r, in] and `lora.<path>.B` [out, r] for each target. */
export function declareSingleLora(g: Graph, config: ModelConfig, targets: LoraTargets, options: DeclareSingleLoraOptions): SingleLoraInputs {
  const sites = siteMap(config, targets);
  const modules = new Map<string, SingleLoraSlot>();
  const trainable: Value[] = [];
  targets.paths.forEach((path, i) => {
    const site = sites.get(path)!;
    const r = options.rank ?? `lora_r${i}`;
    const A = g.input(singleLoraNames.A(path), 'float32', [r, site.inFeatures]);
    const B = g.input(singleLoraNames.B(path), 'float32', [site.outFeatures, r]);
    const scaling = options.scaling === 'fed' ? g.input(singleLoraNames.scaling(path), 'float32', []) : options.scaling;
    modules.set(path, { A, B, scaling });
    trainable.push(A, B);
  });
  return { wiring: new SingleLoraWiring(modules), targets, trainable };
}

export const singleLoraNames = {
  A: (path: string): string => `lora.${path}.A`,
  B: (path: string): string => `lora.${path}.B`,
  scaling: (path: string): string => `lora.${path}.scaling`,
} as const;

/**
 * Feeds for a single-adapter graph. The adapter's tensors are passed by reference (no copy);
 * a target the adapter does not adapt gets a rank-1 zero pair. Scalings are fed when `fedScaling`.
 */
export function singleLoraFeeds(config: ModelConfig, targets: LoraTargets, adapter: LoraWeights, fedScaling: boolean): Record<string, TensorData> {
  const sites = siteMap(config, targets);
  checkCovered(adapter, targets);
  const feeds: Record<string, TensorData> = {};
  for (const path of targets.paths) {
    const site = sites.get(path)!;
    const module = adapter.modules.get(path);
    if (module !== undefined) checkModule(module, site);
    const r = module?.A.shape[0] ?? 1;
    feeds[singleLoraNames.A(path)] = tensorData('float32', [r, site.inFeatures], module?.A.data ?? new Float32Array(r * site.inFeatures));
    feeds[singleLoraNames.B(path)] = tensorData('float32', [site.outFeatures, r], module?.B.data ?? new Float32Array(site.outFeatures * r));
    if (fedScaling) feeds[singleLoraNames.scaling(path)] = tensorData('float32', [], [module?.scaling ?? 0]);
  }
  return feeds;
}

export interface PoolLoraInputs {
  readonly wiring: PoolLoraWiring | DensePoolLoraWiring | RowLoraWiring;
  readonly targets: LoraTargets;
}

/**
 * 'gather' (S-LoRA/Punica): each row gathers its adapter, cost ∝ batch × adapter size — best when
 * most rows use different adapters. 'dense': every row multiplies by the whole pool and a one-hot
 * keeps its slot, cost ∝ pool × rank — best when many rows share few adapters. 'rows': the rows'
 * adapters are fed already gathered (the caller lays them out once per batch composition), for
 * decoding, where the same rows run many steps.
 */
export type PoolStrategy = 'gather' | 'dense' | 'rows';

export const poolLoraNames = {
  adapterIndex: 'lora_pool.adapter_index',
  rowOneHot: 'lora_pool.row_onehot',
  A: (path: string): string => `lora_pool.${path}.A`,
  B: (path: string): string => `lora_pool.${path}.B`,
  scaling: (path: string): string => `lora_pool.${path}.scaling`,
} as const;

/** Inputs of the 'rows' strategy: each row's adapter, [batch, …]. */
export const rowLoraNames = {
  A: (path: string): string => `lora_rows.${path}.A`,
  B: (path: string): string => `lora_rows.${path}.B`,
  scaling: (path: string): string => `lora_rows.${path}.scaling`,
} as const;

/**
 * Declares the stacked pools A [pool, R, in], B [pool, out, R], scaling [pool], and the row
 * selector: adapter_index [batch] int64 ('gather') or row_onehot [batch, pool] float32 ('dense');
 * or, for 'rows', the rows' own A [batch, R, in], B [batch, out, R] and scaling [batch].
 */
export function declarePoolLora(g: Graph, config: ModelConfig, targets: LoraTargets, strategy: PoolStrategy = 'gather'): PoolLoraInputs {
  const sites = siteMap(config, targets);
  const modules = new Map<string, PoolLoraSlot>();
  const [names, lead] = strategy === 'rows' ? [rowLoraNames, 'batch'] : [poolLoraNames, 'pool'];
  targets.paths.forEach((path, i) => {
    const site = sites.get(path)!;
    const R = `pool_r${i}`;
    modules.set(path, {
      A: g.input(names.A(path), 'float32', [lead, R, site.inFeatures]),
      B: g.input(names.B(path), 'float32', [lead, site.outFeatures, R]),
      scaling: g.input(names.scaling(path), 'float32', [lead]),
    });
  });
  const wiring =
    strategy === 'rows'
      ? new RowLoraWiring(modules)
      : strategy === 'dense'
        ? new DensePoolLoraWiring(g.input(poolLoraNames.rowOneHot, 'float32', ['batch', 'pool']), modules)
        : new PoolLoraWiring(g.input(poolLoraNames.adapterIndex, 'int64', ['batch']), modules);
  return { wiring, targets };
}

/**
 * Stacks adapters into pools: slot 0 is all zeros ("no adapter"), slot i + 1 holds adapters[i].
 * Each module's rank is padded with zeros to the largest rank any adapter uses for it (exact:
 * the padded rows of A and columns of B contribute nothing).
 */
export function poolLoraFeeds(config: ModelConfig, targets: LoraTargets, adapters: readonly LoraWeights[]): Record<string, TensorData> {
  const sites = siteMap(config, targets);
  for (const adapter of adapters) checkCovered(adapter, targets);
  const slots = adapters.length + 1;
  const feeds: Record<string, TensorData> = {};
  for (const path of targets.paths) {
    const site = sites.get(path)!;
    const modules = adapters.map((a) => a.modules.get(path));
    modules.forEach((m) => m && checkModule(m, site));
    const R = Math.max(1, ...modules.map((m) => m?.A.shape[0] ?? 0));
    const { inFeatures: inF, outFeatures: outF } = site;
    const A = new Float32Array(slots * R * inF);
    const B = new Float32Array(slots * outF * R);
    const scaling = new Float32Array(slots);
    modules.forEach((m, i) => {
      if (m === undefined) return;
      const slot = i + 1;
      const r = m.A.shape[0]!;
      A.set(m.A.data, slot * R * inF); // rows 0..r−1 of the slot; rows r..R−1 stay zero
      for (let o = 0; o < outF; o++) B.set(m.B.data.subarray(o * r, (o + 1) * r), (slot * outF + o) * R);
      scaling[slot] = m.scaling;
    });
    feeds[poolLoraNames.A(path)] = tensorData('float32', [slots, R, inF], A);
    feeds[poolLoraNames.B(path)] = tensorData('float32', [slots, outF, R], B);
    feeds[poolLoraNames.scaling(path)] = tensorData('float32', [slots], scaling);
  }
  return feeds;
}

/** The row selector feed: one pool slot per row, as an index ('gather') or a one-hot row ('dense'). */
export function rowSelectorFeed(slots: readonly number[], poolSize: number, strategy: Exclude<PoolStrategy, 'rows'> = 'gather'): Record<string, TensorData> {
  if (slots.some((s) => !Number.isInteger(s) || s < 0 || s >= poolSize)) {
    throw new PeftCoreError('INVALID_ARGUMENT', `pool LoRA: row slots [${slots.join(', ')}] must lie in [0, ${poolSize})`);
  }
  if (strategy === 'gather') return { [poolLoraNames.adapterIndex]: tensorData('int64', [slots.length], slots) };
  const onehot = new Float32Array(slots.length * poolSize);
  slots.forEach((s, b) => (onehot[b * poolSize + s] = 1));
  return { [poolLoraNames.rowOneHot]: tensorData('float32', [slots.length, poolSize], onehot) };
}

function siteMap(config: ModelConfig, targets: LoraTargets): Map<string, LinearSite> {
  const all = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
  const sites = new Map<string, LinearSite>();
  for (const path of targets.paths) {
    const site = all.get(path);
    if (site === undefined) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `LoRA target ${path} is not a linear module of this ${config.family} decoder`);
    sites.set(path, site);
  }
  return sites;
}

function checkCovered(adapter: LoraWeights, targets: LoraTargets): void {
  const covered = new Set(targets.paths);
  for (const path of adapter.modules.keys()) {
    if (!covered.has(path)) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `adapter adapts ${path}, which this LoRA graph does not target`);
  }
}

function checkModule(module: LoraModule, site: LinearSite | undefined): void {
  if (site === undefined) {
    throw new PeftCoreError('UNSUPPORTED', `adapter module ${module.path} is not a decoder-layer projection (embedding and lm_head LoRA are not supported by the graph model)`);
  }
  if (module.magnitude !== undefined) {
    throw new PeftCoreError('UNSUPPORTED', `${module.path}: DoRA adapters are not supported by the graph model; merge them into the base weights (lora/merge)`);
  }
  const [r, inF] = module.A.shape;
  const [outF, rB] = module.B.shape;
  if (module.A.shape.length !== 2 || module.B.shape.length !== 2 || r !== rB || inF !== site.inFeatures || outF !== site.outFeatures) {
    throw new PeftCoreError(
      'ADAPTER_INCOMPATIBLE',
      `${module.path}: A [${module.A.shape.join(', ')}], B [${module.B.shape.join(', ')}] do not fit the layer [${site.outFeatures}, ${site.inFeatures}]`,
    );
  }
}
