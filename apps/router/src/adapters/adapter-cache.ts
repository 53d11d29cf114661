import type { LoraWeights } from '@palette/peft-core';

/** Bytes of adapter weights held in memory. */
export function loraBytes(weights: LoraWeights): number {
  let bytes = 0;
  for (const m of weights.modules.values()) bytes += m.A.data.byteLength + m.B.data.byteLength + (m.magnitude?.data.byteLength ?? 0);
  return bytes;
}

/** A use of a cached adapter; the entry cannot be evicted until every lease is released. */
export interface AdapterLease {
  readonly key: string;
  readonly weights: LoraWeights;
  release(): void;
}

export interface CacheEntryInfo {
  readonly key: string;
  readonly bytes: number;
  readonly pinned: boolean;
  readonly leases: number;
  readonly hits: number;
  readonly loadMs: number;
  readonly lastUsedAt: Date;
}

/** What the cache reports to metrics. */
export interface AdapterCacheEvents {
  hit(key: string): void;
  miss(key: string): void;
  loaded(key: string, ms: number): void;
  evicted(key: string): void;
  bytes(total: number): void;
}

interface Entry {
  readonly key: string;
  readonly weights: LoraWeights;
  readonly bytes: number;
  readonly loadMs: number;
  pinned: boolean;
  leases: number;
  hits: number;
  /** Recency order for LRU. */
  lastUsed: number;
  /** Wall-clock time of the last use, for listings. */
  usedAt: number;
}

/**
 * Adapters in host memory under a byte budget. Loads are single-flight per key (concurrent misses
 * share one load). When over budget, the least recently used entries that are neither pinned nor
 * leased (used by a running request) are evicted. Entries in use are never dropped, so the cache
 * may exceed its budget while everything in it is busy; it shrinks back as leases end.
 */
export class AdapterCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private total = 0;
  private tick = 0;

  constructor(
    private readonly budgetBytes: number,
    private readonly events: AdapterCacheEvents,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  get bytes(): number {
    return this.total;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** A lease on the adapter under `key`, loading it with `load` on a miss. */
  async acquire(key: string, load: () => Promise<LoraWeights>): Promise<AdapterLease> {
    const entry = await this.entry(key, load);
    entry.leases += 1;
    entry.lastUsed = ++this.tick;
    entry.usedAt = Date.now();
    let released = false;
    return {
      key,
      weights: entry.weights,
      release: () => {
        if (released) return;
        released = true;
        entry.leases -= 1;
        this.enforceBudget();
      },
    };
  }

  /** Loads (if needed) and pins: pinned entries are never evicted. */
  async pin(key: string, load: () => Promise<LoraWeights>): Promise<CacheEntryInfo> {
    const entry = await this.entry(key, load);
    entry.pinned = true;
    return this.info(entry);
  }

  /** Unpins and drops the entry (it is reloaded on next use); false when it is not cached. Running requests keep their lease. */
  unload(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.remove(entry, false);
    return true;
  }

  list(): CacheEntryInfo[] {
    return [...this.entries.values()].sort((a, b) => b.lastUsed - a.lastUsed).map((e) => this.info(e));
  }

  private async entry(key: string, load: () => Promise<LoraWeights>): Promise<Entry> {
    const cached = this.entries.get(key);
    if (cached !== undefined) {
      cached.hits += 1;
      this.events.hit(key);
      return cached;
    }
    let pending = this.loading.get(key);
    if (pending === undefined) {
      this.events.miss(key);
      pending = this.load(key, load);
      this.loading.set(key, pending);
      pending.then(
        () => this.loading.delete(key),
        () => this.loading.delete(key),
      );
    } else {
      this.events.hit(key);
    }
    return pending;
  }

  private async load(key: string, load: () => Promise<LoraWeights>): Promise<Entry> {
    const started = this.clock();
    const weights = await load();
    const loadMs = this.clock() - started;
    const entry: Entry = { key, weights, bytes: loraBytes(weights), loadMs, pinned: false, leases: 0, hits: 0, lastUsed: ++this.tick, usedAt: Date.now() };
    this.entries.set(key, entry);
    this.total += entry.bytes;
    this.events.loaded(key, loadMs);
    // Protect the new entry while the budget is enforced: its caller is about to lease it.
    entry.leases += 1;
    this.enforceBudget();
    entry.leases -= 1;
    this.events.bytes(this.total);
    return entry;
  }

  private enforceBudget(): void {
    if (this.total <= this.budgetBytes) return;
    const candidates = [...this.entries.values()].filter((e) => !e.pinned && e.leases === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const victim of candidates) {
      if (this.total <= this.budgetBytes) break;
      this.remove(victim, true);
    }
  }

  private remove(entry: Entry, evicted: boolean): void {
    this.entries.delete(entry.key);
    this.total -= entry.bytes;
    if (evicted) this.events.evicted(entry.key);
    this.events.bytes(this.total);
  }

  private info(e: Entry): CacheEntryInfo {
    return { key: e.key, bytes: e.bytes, pinned: e.pinned, leases: e.leases, hits: e.hits, loadMs: e.loadMs, lastUsedAt: new Date(e.usedAt) };
  }
}
