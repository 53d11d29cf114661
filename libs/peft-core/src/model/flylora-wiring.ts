import { PeftCoreError } from '../errors';
import type { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import type { Value } from '../graph/value';
import type { LinearSite, LoraWiring } from './lora-wiring';

/**
 * FlyLoRA (ALGORITHMS.md "FlyLoRA"): an implicit rank-wise router. Per adapted projection
 *   y = A x                      A [r, in] frozen sparse random (the router and the down-projection)
 *   I = TopK(y + d, k)           on signed values; d [r] a selection-only bias (never trained)
 *   h = W0 x + s · B (y ⊙ 1_I)  B [out, r] zero-init, the only trained tensor; s = α / r
 *
 * `blocks` > 1 splits the r ranks into equal blocks with a top-k in each: that is exactly the
 * sum of several FlyLoRA adapters side by side, which is how adapters trained with different
 * random A are merged (routing/flylora-merge.ts).
 */
export interface FlyLoraSlot {
  readonly A: Value;
  readonly B: Value;
  /** d [r]: load-balancing bias, selection only. */
  readonly bias: Value;
}

export interface FlyLoraOptions {
  /** Ranks kept per token (per block). */
  readonly topK: number;
  /** α / r. */
  readonly scaling: number;
  /** Equal rank blocks, each with its own top-k (default 1). */
  readonly blocks?: number;
  /**
   * [batch, seq] weights of the tokens that count in the routing statistics (1 real, 0 padding).
   * Without it every position counts.
   */
  readonly tokenWeights?: Value;
}

export interface FlyLoraRouteRecord {
  readonly path: string;
  /** 1 where rank i was selected for the token: [batch, seq, r]. */
  readonly mask: Value;
  /** c_i: tokens routed to rank i in this batch, [r] (weighted by tokenWeights). */
  readonly counts: Value;
  /** y = A x before selection, [batch, seq, r] (serving reports how much each rank block carries). */
  readonly projected: Value;
}

export class FlyLoraWiring implements LoraWiring {
  readonly kind = 'flylora';
  readonly blocks: number;
  private readonly records: FlyLoraRouteRecord[] = [];

  constructor(
    readonly modules: ReadonlyMap<string, FlyLoraSlot>,
    readonly options: FlyLoraOptions,
  ) {
    this.blocks = options.blocks ?? 1;
    for (const [path, slot] of modules) {
      const r = slot.A.shape[0];
      if (slot.A.rank !== 2 || slot.B.rank !== 2 || slot.bias.rank !== 1 || typeof r !== 'number' || slot.B.shape[1] !== r || slot.bias.shape[0] !== r) {
        throw new PeftCoreError(
          'SHAPE_MISMATCH',
          `${path}: FlyLoRA expects A [r, in], B [out, r], d [r] with a fixed r, got A [${slot.A.shape.join(', ')}], B [${slot.B.shape.join(', ')}], d [${slot.bias.shape.join(', ')}]`,
        );
      }
      if (!Number.isInteger(this.blocks) || this.blocks < 1 || r % this.blocks !== 0) {
        throw new PeftCoreError('INVALID_ARGUMENT', `${path}: FlyLoRA rank ${r} does not split into ${this.blocks} equal blocks`);
      }
      const perBlock = r / this.blocks;
      if (!Number.isInteger(options.topK) || options.topK < 1 || options.topK > perBlock) {
        throw new PeftCoreError('INVALID_ARGUMENT', `${path}: FlyLoRA topK must be an integer in [1, ${perBlock}], got ${options.topK}`);
      }
    }
  }

  /** Routing masks and counts of every adapted projection, in build order. */
  get routeRecords(): readonly FlyLoraRouteRecord[] {
    return this.records;
  }

  adaptLinear(g: Graph, site: LinearSite, x: Value, y: Value): Value {
    const slot = this.modules.get(site.path);
    if (slot === undefined) return y;
    if (slot.A.shape[1] !== site.inFeatures || slot.B.shape[0] !== site.outFeatures) {
      throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `${site.path}: FlyLoRA A [${slot.A.shape.join(', ')}], B [${slot.B.shape.join(', ')}] do not fit the layer [${site.outFeatures}, ${site.inFeatures}]`);
    }
    const r = slot.A.shape[0] as number;
    const projected = g.matmul(x, slot.A, { transB: true }); // y = A x: [batch, seq, r]
    const mask = rankSelectionMask(g, g.add(projected, slot.bias), this.options.topK, this.blocks);
    const weights = this.options.tokenWeights === undefined ? mask : g.mul(mask, g.unsqueeze(this.options.tokenWeights, [2]));
    const counts = g.reduceSum(g.reshape(weights, [-1, r]), [0]);
    this.records.push({ path: site.path, mask, counts, projected });
    const kept = g.mul(g.mul(projected, mask), this.options.scaling);
    return g.add(y, g.matmul(kept, slot.B, { transB: true }));
  }
}

/**
 * 1 at the top-k of each block of `scores` [.., r] (signed values, largest first), else 0, in the
 * dtype of scores. Built from TopK's indices only, so no gradient flows through the selection.
 */
export function rankSelectionMask(g: Graph, scores: Value, k: number, blocks = 1): Value {
  const r = scores.shape[scores.rank - 1];
  if (typeof r !== 'number' || r % blocks !== 0) throw new PeftCoreError('SHAPE_MISMATCH', `rank selection: rank axis ${String(r)} does not split into ${blocks} blocks`);
  const perBlock = r / blocks;
  const lead = scores.shape.slice(0, -1);
  const blocked = blocks === 1 ? scores : g.reshape(scores, [...lead, blocks, perBlock]);
  const { indices } = g.topk(blocked, k, -1); // [.., (blocks,) k]
  const ranks = g.constant(tensorData('int64', [perBlock], Array.from({ length: perBlock }, (_, i) => i)));
  const hits = g.cast(g.equal(g.unsqueeze(indices, [-1]), ranks), scores.dtype); // [.., (blocks,) k, perBlock]
  const mask = g.reduceSum(hits, [blocked.rank - 1]); // [.., (blocks,) perBlock]
  return blocks === 1 ? mask : g.reshape(mask, [...lead, r]);
}

/** Graph input names of a FlyLoRA graph. */
export const flyLoraNames = {
  A: (path: string): string => `flylora.${path}.A`,
  B: (path: string): string => `flylora.${path}.B`,
  bias: (path: string): string => `flylora.${path}.d`,
  counts: (path: string): string => `flylora.${path}.counts`,
  tokenWeights: 'flylora.token_weights',
} as const;
