import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import type { LoraWeights } from '../lora/adapter';
import { decoderLinearSites } from './decoder';
import { type LoraTargets, loraTargetsOf, poolLoraNames, rowSelectorFeed } from './lora-inputs';
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
 * The stacked adapter pool of a running batch (the `pool` LoRA wiring's inputs), kept across
 * decode steps. Adapters are refcounted by the rows that use them; an adapter is written into a
 * free slot once when its first row joins, and its slot is freed when its last row leaves, so a
 * step never re-stacks the pool. Slot 0 is the all-zero "no adapter" slot.
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
  private cachedFeeds: Record<string, TensorData> | undefined;

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
      this.cachedFeeds = undefined;
      return;
    }
    this.freeSlots.push(resident.slot);
  }

  /** The pool tensors (views of the pool's buffers; valid until the next acquire/release). */
  feeds(): Record<string, TensorData> {
    if (this.cachedFeeds === undefined) {
      const feeds: Record<string, TensorData> = {};
      for (const [path, p] of this.pools) {
        feeds[poolLoraNames.A(path)] = tensorData('float32', [this.capacity, p.rank, p.site.inFeatures], p.A);
        feeds[poolLoraNames.B(path)] = tensorData('float32', [this.capacity, p.site.outFeatures, p.rank], p.B);
        feeds[poolLoraNames.scaling(path)] = tensorData('float32', [this.capacity], p.scaling);
      }
      this.cachedFeeds = feeds;
    }
    return this.cachedFeeds;
  }

  /** The gather wiring's per-row adapter index (slot 0 for rows without an adapter). */
  rowFeeds(rowSlots: readonly number[]): Record<string, TensorData> {
    return rowSelectorFeed(rowSlots, this.capacity, 'gather');
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
    this.cachedFeeds = undefined;
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
  }
}
