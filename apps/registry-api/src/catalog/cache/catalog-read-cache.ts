/** How long a cached read may be served on a shared Postgres, where ANOTHER replica may write. */
export const CATALOG_CACHE_TTL_MS = 2_000;

/**
 * Embedded PGlite is locked to this one process (DATA_DIR/pglite.lock), so every write goes
 * through this process and invalidates the cache: entries never go stale and need no TTL.
 * On Postgres other replicas write too, so entries expire after CATALOG_CACHE_TTL_MS.
 */
export function catalogCacheTtlFor(database: { kind: 'pglite' | 'postgres' }): number {
  return database.kind === 'pglite' ? Number.POSITIVE_INFINITY : CATALOG_CACHE_TTL_MS;
}
/** Entries kept at most; the oldest-used go first. */
export const CATALOG_CACHE_MAX_ENTRIES = 10_000;

interface Entry {
  readonly generation: number;
  readonly expiresAt: number;
  readonly value: Promise<unknown>;
}

/**
 * Read-through cache for catalog reads (adapter by name, list pages, versions, searches).
 *
 * Why: on embedded PGlite every query runs on the server's own event loop (Postgres compiled to
 * WASM), so a GET that costs several queries caps throughput far below what the HTTP layer can
 * serve. Catalog reads are many and writes are few, so reads are cached and every write in this
 * process clears the cache (`invalidate()` after the write commits): a client never reads its
 * own write stale. ANY code that writes catalog tables must call invalidate(). Writes made by
 * another replica on a shared Postgres are seen after at most CATALOG_CACHE_TTL_MS.
 *
 * Concurrent misses for one key share a single load (no stampede). Failed loads are not cached.
 * Cached values are shared: callers must treat them as read-only.
 */
export class CatalogReadCache {
  private generation = 0;
  private readonly entries = new Map<string, Entry>();
  // Plain counters (not prom-client) so the cache stays a dependency-free unit.
  hits = 0;
  misses = 0;

  constructor(
    private readonly ttlMs: number = CATALOG_CACHE_TTL_MS,
    private readonly maxEntries: number = CATALOG_CACHE_MAX_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {}

  read<T>(key: string, load: () => Promise<T>): Promise<T> {
    const entry = this.entries.get(key);
    const now = this.now();
    if (entry && entry.generation === this.generation && entry.expiresAt > now) {
      this.hits += 1;
      // Re-insert so Map order is least-recently-used first.
      this.entries.delete(key);
      this.entries.set(key, entry);
      return entry.value as Promise<T>;
    }
    this.misses += 1;
    const generation = this.generation;
    const value = load();
    this.entries.delete(key);
    this.entries.set(key, { generation, expiresAt: now + this.ttlMs, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return value;
  }

  /** Call after every committed catalog write. Loads already in flight are not stored under the new generation. */
  invalidate(): void {
    this.generation += 1;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
