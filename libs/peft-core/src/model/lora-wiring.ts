import { PeftCoreError } from '../errors';
import type { LinearModule } from '../formats/model-config';
import { mulDims } from '../graph/dims';
import type { Graph } from '../graph/graph';
import type { Value } from '../graph/value';

/** Where a linear projection sits, passed to the wiring so it can find its adapter slot. */
export interface LinearSite {
  /** Module path, e.g. 'model.layers.0.self_attn.q_proj' (the key PEFT adapters use). */
  readonly path: string;
  readonly layer: number;
  readonly module: LinearModule;
  readonly inFeatures: number;
  readonly outFeatures: number;
}

/**
 * How LoRA adapters enter the decoder. The decoder calls `adaptLinear` after every base
 * projection y = x·Wᵀ(+b); a wiring returns y plus its adapters' contribution. New schemes
 * (MeteoRA's gated top-k mixture, FlyLoRA, X-Cross fusion) are new implementations of this
 * interface, so adding one never touches the others or the decoder.
 */
export interface LoraWiring {
  readonly kind: string;
  /** x: [batch, seq, in]; y: [batch, seq, out] (the base output). */
  adaptLinear(g: Graph, site: LinearSite, x: Value, y: Value): Value;
  /** Optional hook on each decoder layer's output [batch, seq, hidden] (layer-wise fusion). */
  afterLayer?(g: Graph, layer: number, hidden: Value): Value;
}

/** One adapter's tensors for one module: A [r, in], B [out, r]. */
export interface SingleLoraSlot {
  readonly A: Value;
  readonly B: Value;
  /** alpha/r (or a fed scalar value); multiplies B·A·x. */
  readonly scaling: number | Value;
}

/** One adapter for the whole batch: y += s · (x Aᵀ) Bᵀ on every targeted module. */
export class SingleLoraWiring implements LoraWiring {
  readonly kind = 'single';
  constructor(readonly modules: ReadonlyMap<string, SingleLoraSlot>) {
    for (const [path, slot] of modules) {
      if (slot.A.rank !== 2 || slot.B.rank !== 2) {
        throw new PeftCoreError('SHAPE_MISMATCH', `${path}: single LoRA expects A [r, in] and B [out, r], got A [${slot.A.shape.join(', ')}], B [${slot.B.shape.join(', ')}]`);
      }
    }
  }

  adaptLinear(g: Graph, site: LinearSite, x: Value, y: Value): Value {
    const slot = this.modules.get(site.path);
    if (slot === undefined) return y;
    checkFeatureDims(site, slot.A.shape[1], slot.B.shape[0]);
    // Scale the rank-r intermediate rather than the [.., out] result: r ≪ out.
    const xa = g.mul(g.matmul(x, slot.A, { transB: true }), slot.scaling);
    return g.add(y, g.matmul(xa, slot.B, { transB: true }));
  }
}

/**
 * Stacked adapters for one module: A [N, R, in], B [N, out, R], scaling [N]. N is the pool's slots
 * (PoolLoraWiring, DensePoolLoraWiring) or the batch's rows (RowLoraWiring).
 */
export interface PoolLoraSlot {
  readonly A: Value;
  readonly B: Value;
  readonly scaling: Value;
}

/**
 * A different adapter per batch row, gathered from stacked pools (S-LoRA / Punica):
 * y_b += s[i_b] · (x_b A[i_b]ᵀ) B[i_b]ᵀ with i = adapterIndex [batch] int64. Ranks are padded to the
 * pool's R with zeros (exact: padded rank rows contribute 0). By convention slot 0 is all zeros,
 * meaning "no adapter" for that row.
 */
export class PoolLoraWiring implements LoraWiring {
  readonly kind = 'pool';
  constructor(
    readonly adapterIndex: Value,
    readonly modules: ReadonlyMap<string, PoolLoraSlot>,
  ) {
    if (adapterIndex.rank !== 1 || adapterIndex.dtype !== 'int64') {
      throw new PeftCoreError('SHAPE_MISMATCH', `pool LoRA: adapterIndex must be int64 [batch], got ${adapterIndex.dtype} [${adapterIndex.shape.join(', ')}]`);
    }
    checkStackedSlots('pool LoRA', 'P', modules);
  }

  adaptLinear(g: Graph, site: LinearSite, x: Value, y: Value): Value {
    const slot = this.modules.get(site.path);
    if (slot === undefined) return y;
    checkFeatureDims(site, slot.A.shape[2], slot.B.shape[1]);
    // [batch, R, in], [batch, out, R], [batch]
    return addRowLora(g, x, y, g.gather(slot.A, this.adapterIndex), g.gather(slot.B, this.adapterIndex), g.gather(slot.scaling, this.adapterIndex));
  }
}

/**
 * A different adapter per batch row, fed already laid out per row. The same sum, in the same
 * order, as PoolLoraWiring without its per-step gathers: the caller lays the rows out once per
 * batch composition (LoraPool.batchFeeds), and a decoding batch keeps its rows for many steps,
 * where an in-graph gather copies every row's adapter on every step.
 */
export class RowLoraWiring implements LoraWiring {
  readonly kind = 'rows';
  /** Slots whose leading axis is the batch's rows. */
  constructor(readonly modules: ReadonlyMap<string, PoolLoraSlot>) {
    checkStackedSlots('row LoRA', 'batch', modules);
  }

  adaptLinear(g: Graph, site: LinearSite, x: Value, y: Value): Value {
    const slot = this.modules.get(site.path);
    if (slot === undefined) return y;
    checkFeatureDims(site, slot.A.shape[2], slot.B.shape[1]);
    return addRowLora(g, x, y, slot.A, slot.B, slot.scaling);
  }
}

function checkStackedSlots(kind: string, lead: string, modules: ReadonlyMap<string, PoolLoraSlot>): void {
  for (const [path, slot] of modules) {
    if (slot.A.rank !== 3 || slot.B.rank !== 3 || slot.scaling.rank !== 1) {
      throw new PeftCoreError(
        'SHAPE_MISMATCH',
        `${path}: ${kind} expects A [${lead}, R, in], B [${lead}, out, R], scaling [${lead}], got A [${slot.A.shape.join(', ')}], B [${slot.B.shape.join(', ')}], scaling [${slot.scaling.shape.join(', ')}]`,
      );
    }
  }
}

/** y_b += (s_b · x_b A_bᵀ) B_bᵀ for per-row A [batch, R, in], B [batch, out, R], s [batch]. */
function addRowLora(g: Graph, x: Value, y: Value, rowA: Value, rowB: Value, rowScaling: Value): Value {
  const xa = g.mul(g.matmul(x, rowA, { transB: true }), g.unsqueeze(rowScaling, [1, 2])); // [batch, seq, R]
  return g.add(y, g.matmul(xa, rowB, { transB: true }));
}

function checkFeatureDims(site: LinearSite, inDim: number | string | undefined, outDim: number | string | undefined): void {
  if ((typeof inDim === 'number' && inDim !== site.inFeatures) || (typeof outDim === 'number' && outDim !== site.outFeatures)) {
    throw new PeftCoreError(
      'ADAPTER_INCOMPATIBLE',
      `${site.path}: LoRA tensors are for [${outDim}, ${inDim}] but the layer is [${site.outFeatures}, ${site.inFeatures}]`,
    );
  }
}

/**
 * The pool wiring computed densely: every row runs through the whole (small) pool and a one-hot
 * row weight keeps its own slot: y_b += Σ_p w[b,p] s[p] · (x_b A[p]ᵀ) B[p]ᵀ with w = onehot(idx_b).
 * Same result as PoolLoraWiring, but per step it reads each pool once instead of copying one
 * adapter per row, which wins when many rows share few adapters (cost grows with pool × rank).
 */
export class DensePoolLoraWiring implements LoraWiring {
  readonly kind = 'pool-dense';
  constructor(
    /** [batch, pool] float32, 1 at each row's slot. */
    readonly rowOneHot: Value,
    readonly modules: ReadonlyMap<string, PoolLoraSlot>,
  ) {
    if (rowOneHot.rank !== 2 || rowOneHot.dtype !== 'float32') {
      throw new PeftCoreError('SHAPE_MISMATCH', `dense pool LoRA: rowOneHot must be float32 [batch, pool], got ${rowOneHot.dtype} [${rowOneHot.shape.join(', ')}]`);
    }
  }

  adaptLinear(g: Graph, site: LinearSite, x: Value, y: Value): Value {
    const slot = this.modules.get(site.path);
    if (slot === undefined) return y;
    checkFeatureDims(site, slot.A.shape[2], slot.B.shape[1]);
    const [pool, rank] = slot.A.shape as [number | string, number | string];
    const [batch, seq] = x.shape as [number | string, number | string];
    const flatRank = mulDims(pool, rank);
    const allA = g.reshape(slot.A, [flatRank, site.inFeatures]); // [pool·R, in], a view
    const xa = g.reshape(g.matmul(x, allA, { transB: true }), [batch, seq, pool, rank]); // [batch, seq, pool, R]
    const rowWeight = g.unsqueeze(g.mul(this.rowOneHot, slot.scaling), [1, 3]); // [batch, 1, pool, 1]
    const kept = g.reshape(g.mul(xa, rowWeight), [batch, seq, flatRank]);
    const allB = g.reshape(g.transpose(slot.B, [1, 0, 2]), [site.outFeatures, flatRank]); // [out, pool·R]
    return g.add(y, g.matmul(kept, allB, { transB: true }));
  }
}
