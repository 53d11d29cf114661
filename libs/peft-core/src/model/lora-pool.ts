import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import type { LoraWeights } from '../lora/adapter';
import { decoderLinearSites } from './decoder';
import { type LoraTargets, loraTargetsOf, rowLoraNames } from './lora-inputs';
import type { LinearSite } from './lora-wiring';

interface PathPool {
  readonly site: LinearSite;
  /** Padded rank of this module's slots. */
  readonly rank: number;
  readonly A: Float32Array; // [capacity, rank, in]
  readonly B: Float32Array; // [capacity, out, rank]
  readonly scaling: Float32Array; // [capacity]
}

interface Resident {
  readonly slot: number;
  refs: number;
}

/**
 * The stacked adapter pool of a running batch, kept across decode steps, and the per-row feeds of
 * the 'rows' LoRA wiring laid out from it. Adapters are refcounted by the rows that use them; an
 * adapter is written into a free slot once when its first row joins, and its slot is freed when its
 * last row leaves, so a step never re-stacks the pool. Slot 0 is the all-zero "no adapter" slot.
 * The per-row feeds are laid out again only when the rows' slots or the pool change, not per step.
 *
 * The pool's target modules and per-module padded ranks only grow while adapters are resident
 * (a wider adapter re-stacks the pool once); when the pool empties they reset, so the compiled
 * graph tracks the target set in use (one compiled graph per distinct target set, never per adapter).
 */
export class LoraPool {
  private readonly sites: ReadonlyMap<string, LinearSite>;
  private readonly residents = new Map<LoraWeights, Resident>();
  private pools = new Map<string, PathPool>();
  private capacity = 0;
  private freeSlots: number[] = [];
  /** Bumped whenever a slot's contents or the pool's layout change: row feeds laid out before are stale. */
  private version = 0;
  /** Row feeds by version and slots: a step's rows, and a prefill's joiners, alternate. */
  private rowFeedCache = new Map<string, Record<string, TensorData>>();

  constructor(
    private readonly config: ModelConfig,
    private readonly initialCapacity = 8,
  ) {
    this.sites = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
  }

  /** Distinct adapters resident. */
  get size(): number {
    return this.residents.size;
  }

  /** Slots allocated, slot 0 included (the `pool` dimension of the feeds). */
  get slots(): number {
    return this.capacity;
  }

  /** Target modules of the resident adapters (undefined when none is resident: use the base graph). */
  get targets(): LoraTargets | undefined {
    if (this.residents.size === 0) return undefined;
    return { paths: [...this.pools.keys()] };
  }

  /** Takes a reference on `adapter` and returns its slot, writing it into the pool on first use. */
  acquire(adapter: LoraWeights): number {
    const resident = this.residents.get(adapter);
    if (resident !== undefined) {
      resident.refs += 1;
      return resident.slot;
    }
    // Throws for modules the decoder lacks, wrong shapes and DoRA, before anything changes.
    const paths = loraTargetsOf(this.config, [adapter]).paths;
    const fits = paths.every((p) => {
      const pool = this.pools.get(p);
      return pool !== undefined && adapter.modules.get(p)!.A.shape[0]! <= pool.rank;
    });
    if (!fits || this.freeSlots.length === 0) {
      const all = [...this.residents.keys(), adapter];
      this.restack(all, Math.max(this.initialCapacity, all.length + 1, fits ? this.capacity * 2 : this.capacity));
      return this.residents.get(adapter)!.slot;
    }
    const slot = this.freeSlots.pop()!;
    this.write(adapter, slot);
    this.residents.set(adapter, { slot, refs: 1 });
    return slot;
  }

  /** The slot of a resident adapter (it may move when the pool re-stacks: read it per step). */
  slotOf(adapter: LoraWeights): number {
    const resident = this.residents.get(adapter);
    if (resident === undefined) throw new PeftCoreError('INVALID_ARGUMENT', 'LoraPool.slotOf: adapter is not in the pool');
    return resident.slot;
  }

  /** Drops one reference; the adapter's slot is freed with its last reference. */
  release(adapter: LoraWeights): void {
    const resident = this.residents.get(adapter);
    if (resident === undefined) throw new PeftCoreError('INVALID_ARGUMENT', 'LoraPool.release: adapter is not in the pool');
    resident.refs -= 1;
    if (resident.refs > 0) return;
    this.residents.delete(adapter);
    if (this.residents.size === 0) {
      // Start the next batch from what it uses, not from everything seen before.
      this.pools = new Map();
      this.capacity = 0;
      this.freeSlots = [];
      this.changed();
      return;
    }
    this.freeSlots.push(resident.slot);
  }

  /**
   * The 'rows' wiring's feeds for rows using these slots (slot 0: no adapter): each row's A
   * [R, in], B [out, R] and scaling, copied from its slot. Cached until the pool changes.
   */
  batchFeeds(rowSlots: readonly number[]): Record<string, TensorData> {
    if (rowSlots.some((s) => !Number.isInteger(s) || s < 0 || s >= this.capacity)) {
      throw new PeftCoreError('INVALID_ARGUMENT', `LoraPool: row slots [${rowSlots.join(', ')}] must lie in [0, ${this.capacity})`);
    }
    const key = `${this.version}:${rowSlots.join(',')}`;
    const cached = this.rowFeedCache.get(key);
    if (cached !== undefined) return cached;
    const batch = rowSlots.length;
    const feeds: Record<string, TensorData> = {};
    for (const [path, p] of this.pools) {
      const aSize = p.rank * p.site.inFeatures;
      const bSize = p.site.outFeatures * p.rank;
      const A = new Float32Array(batch * aSize);
      const B = new Float32Array(batch * bSize);
      const scaling = new Float32Array(batch);
      rowSlots.forEach((slot, row) => {
        A.set(p.A.subarray(slot * aSize, (slot + 1) * aSize), row * aSize);
        B.set(p.B.subarray(slot * bSize, (slot + 1) * bSize), row * bSize);
        scaling[row] = p.scaling[slot]!;
      });
      feeds[rowLoraNames.A(path)] = tensorData('float32', [batch, p.rank, p.site.inFeatures], A);
      feeds[rowLoraNames.B(path)] = tensorData('float32', [batch, p.site.outFeatures, p.rank], B);
      feeds[rowLoraNames.scaling(path)] = tensorData('float32', [batch], scaling);
    }
    if (this.rowFeedCache.size >= 2) this.rowFeedCache.delete(this.rowFeedCache.keys().next().value!);
    this.rowFeedCache.set(key, feeds);
    return feeds;
  }

  private restack(adapters: readonly LoraWeights[], capacity: number): void {
    const ranks = new Map<string, number>();
    for (const adapter of adapters) {
      for (const path of loraTargetsOf(this.config, [adapter]).paths) {
        ranks.set(path, Math.max(ranks.get(path) ?? 1, adapter.modules.get(path)!.A.shape[0]!));
      }
    }
    const pools = new Map<string, PathPool>();
    // Model order, so the target key (and the compiled graph) does not depend on arrival order.
    for (const [path, site] of this.sites) {
      const rank = ranks.get(path);
      if (rank === undefined) continue;
      pools.set(path, {
        site,
        rank,
        A: new Float32Array(capacity * rank * site.inFeatures),
        B: new Float32Array(capacity * site.outFeatures * rank),
        scaling: new Float32Array(capacity),
      });
    }
    const previous = new Map([...this.residents].map(([a, r]) => [a, r.refs]));
    this.pools = pools;
    this.capacity = capacity;
    this.residents.clear();
    adapters.forEach((adapter, i) => {
      const slot = i + 1;
      this.write(adapter, slot);
      this.residents.set(adapter, { slot, refs: previous.get(adapter) ?? 1 });
    });
    this.freeSlots = [];
    for (let s = capacity - 1; s > adapters.length; s--) this.freeSlots.push(s);
    this.changed();
  }

  private changed(): void {
    this.version += 1;
    this.rowFeedCache.clear();
  }

  /** Writes `adapter` into `slot` of every module pool; modules it does not adapt get zeros. */
  private write(adapter: LoraWeights, slot: number): void {
    for (const [path, p] of this.pools) {
      const { inFeatures: inF, outFeatures: outF } = p.site;
      const R = p.rank;
      const aBase = slot * R * inF;
      const bBase = slot * outF * R;
      p.A.fill(0, aBase, aBase + R * inF);
      p.B.fill(0, bBase, bBase + outF * R);
      p.scaling[slot] = 0;
      const m = adapter.modules.get(path);
      if (m === undefined) continue;
      const r = m.A.shape[0]!;
      p.A.set(m.A.data, aBase); // rows r..R−1 stay zero: the padded rank contributes nothing
      for (let o = 0; o < outF; o++) p.B.set(m.B.data.subarray(o * r, (o + 1) * r), bBase + o * R);
      p.scaling[slot] = m.scaling;
    }
    this.changed();
  }
}
