import { Gauge } from 'prom-client';
import type { MetricsService } from '../platform';
import type { CatalogReadCache } from './catalog-read-cache';

/**
 * Exposes the read cache on /metrics. Gauges read the cache's counters at scrape time, so the
 * hot path only increments plain numbers.
 */
export function registerCatalogCacheMetrics(metrics: MetricsService, cache: CatalogReadCache): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics.registry],
      collect() {
        this.set(read());
      },
    });
  gauge('catalog_read_cache_hits', 'Catalog reads answered from the cache since start', () => cache.hits);
  gauge('catalog_read_cache_misses', 'Catalog reads that went to the database since start', () => cache.misses);
  gauge('catalog_read_cache_entries', 'Entries currently in the catalog read cache', () => cache.size);
}
