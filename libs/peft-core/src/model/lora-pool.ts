import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import type { LoraWeights } from '../lora/adapter';
import { decoderLinearSites } from './decoder';
import { type LoraTargets, loraTargetsOf, rowLoraNames } from './lora-inputs';
import type { LinearSite } from './lora-wiring';

/**
 * The adapters of a running batch and the per-row feeds of the decode graph's 'rows' LoRA wiring.
 * Adapters are refcounted by the rows that use them. Each module is padded to the largest rank
 * any resident adapter uses for it (exact: padded rank rows and columns contribute 0), and a row
 * without an adapter, or whose adapter does not adapt a module, gets zeros there.
 *
 * The target modules and padded ranks only grow while adapters are resident (a wider adapter
 * changes the layout once) and reset when the last one leaves, so the compiled graph tracks the
 * target set in use (one compiled graph per distinct target set, never per adapter). The per-row
 * feeds are laid out again only when the rows' adapters or the layout change, not per step.
 */
export class LoraPool {
  private readonly sites: ReadonlyMap<string, LinearSite>;
  private readonly refs = new Map<LoraWeights, number>();
  /** Padded rank per targeted module, in model order. */
  private ranks = new Map<string, number>();
  /** Bumped whenever the layout changes: row feeds laid out before are stale. */
  private version = 0;
  /** Ids that name adapters in the row-feed cache keys (an adapter object is immutable). */
  private readonly ids = new WeakMap<LoraWeights, number>();
  private nextId = 1;
  /** Row feeds by layout version and the rows' adapters: a step's rows and a prefill's joiners alternate. */
  private readonly rowFeedCache = new Map<string, Record<string, TensorData>>();

  constructor(private readonly config: ModelConfig) {
    this.sites = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
  }

  /** Distinct adapters resident. */
  get size(): number {
    return this.refs.size;
  }

  /** Target modules of the resident adapters (undefined when none is resident: use the base graph). */
  get targets(): LoraTargets | undefined {
    if (this.refs.size === 0) return undefined;
    return { paths: [...this.ranks.keys()] };
  }

  /** Takes a reference on `adapter`; throws (changing nothing) for modules the decoder lacks, wrong shapes and DoRA. */
  acquire(adapter: LoraWeights): void {
    const refs = this.refs.get(adapter);
    if (refs !== undefined) {
      this.refs.set(adapter, refs + 1);
      return;
    }
    const paths = loraTargetsOf(this.config, [adapter]).paths;
    this.refs.set(adapter, 1);
    if (paths.some((p) => adapter.modules.get(p)!.A.shape[0]! > (this.ranks.get(p) ?? 0))) {
      const ranks = new Map<string, number>();
      // Model order, so the target key (and the compiled graph) does not depend on arrival order.
      for (const path of this.sites.keys()) {
        const rank = Math.max(this.ranks.get(path) ?? 0, paths.includes(path) ? adapter.modules.get(path)!.A.shape[0]! : 0);
        if (rank > 0) ranks.set(path, rank);
      }
      this.ranks = ranks;
      this.changed();
    }
  }

  /** Drops one reference; with the last adapter gone the layout resets. */
  release(adapter: LoraWeights): void {
    const refs = this.refs.get(adapter);
    if (refs === undefined) throw new PeftCoreError('INVALID_ARGUMENT', 'LoraPool.release: adapter is not in the pool');
    if (refs > 1) {
      this.refs.set(adapter, refs - 1);
      return;
    }
    this.refs.delete(adapter);
    if (this.refs.size === 0) {
      // Start the next batch from what it uses, not from everything seen before.
      this.ranks = new Map();
      this.changed();
    }
  }

  /**
   * The 'rows' wiring's feeds for rows using these adapters (undefined: none): each row's A
   * [R, in], B [out, R] and scaling per targeted module, zero-padded. Cached until the layout changes.
   */
  batchFeeds(rowAdapters: readonly (LoraWeights | undefined)[]): Record<string, TensorData> {
    for (const a of rowAdapters) {
      if (a !== undefined && !this.refs.has(a)) throw new PeftCoreError('INVALID_ARGUMENT', 'LoraPool.batchFeeds: a row uses an adapter that is not in the pool');
    }
    const key = `${this.version}:${rowAdapters.map((a) => (a === undefined ? 0 : this.idOf(a))).join(',')}`;
    const cached = this.rowFeedCache.get(key);
    if (cached !== undefined) return cached;
    const batch = rowAdapters.length;
    const feeds: Record<string, TensorData> = {};
    for (const [path, R] of this.ranks) {
      const { inFeatures: inF, outFeatures: outF } = this.sites.get(path)!;
      const A = new Float32Array(batch * R * inF);
      const B = new Float32Array(batch * outF * R);
      const scaling = new Float32Array(batch);
      rowAdapters.forEach((adapter, row) => {
        const m = adapter?.modules.get(path);
        if (m === undefined) return;
        const r = m.A.shape[0]!;
        A.set(m.A.data, row * R * inF); // rank rows r..R−1 stay zero
        if (r === R) B.set(m.B.data, row * outF * R);
        else for (let o = 0; o < outF; o++) B.set(m.B.data.subarray(o * r, (o + 1) * r), (row * outF + o) * R);
        scaling[row] = m.scaling;
      });
      feeds[rowLoraNames.A(path)] = tensorData('float32', [batch, R, inF], A);
      feeds[rowLoraNames.B(path)] = tensorData('float32', [batch, outF, R], B);
      feeds[rowLoraNames.scaling(path)] = tensorData('float32', [batch], scaling);
    }
    if (this.rowFeedCache.size >= 2) this.rowFeedCache.delete(this.rowFeedCache.keys().next().value!);
    this.rowFeedCache.set(key, feeds);
    return feeds;
  }

  private idOf(adapter: LoraWeights): number {
    let id = this.ids.get(adapter);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(adapter, id);
    }
    return id;
  }

  private changed(): void {
    this.version += 1;
    this.rowFeedCache.clear();
  }
}
