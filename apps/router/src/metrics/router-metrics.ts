import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Window over which tokens_per_second is computed. */
const THROUGHPUT_WINDOW_MS = 10_000;

/**
 * The router's Prometheus metrics (served at /metrics). Counters for rates (tokens, cache events),
 * histograms for per-step batch shape and adapter load latency, gauges for what is true right now.
 */
@Injectable()
export class RouterMetrics {
  readonly registry = new Registry();
  readonly generatedTokens = new Counter({ name: 'palette_router_generated_tokens_total', help: 'Tokens generated', registers: [this.registry] });
  readonly promptTokens = new Counter({ name: 'palette_router_prompt_tokens_total', help: 'Prompt tokens prefilled', registers: [this.registry] });
  readonly requests = new Counter({
    name: 'palette_router_requests_total',
    help: 'Completed generation requests by finish reason',
    labelNames: ['finish_reason'],
    registers: [this.registry],
  });
  readonly tokensPerSecond: Gauge = new Gauge({
    name: 'palette_router_tokens_per_second',
    help: `Generated tokens per second over the last ${THROUGHPUT_WINDOW_MS / 1000} s`,
    registers: [this.registry],
    collect: (): void => this.tokensPerSecond.set(this.recentThroughput()),
  });
  readonly queueDepth = new Gauge({ name: 'palette_router_queue_depth', help: 'Requests waiting for a batch slot', registers: [this.registry] });
  readonly runningRows = new Gauge({ name: 'palette_router_running_rows', help: 'Requests decoding right now', registers: [this.registry] });
  readonly batchOccupancy = new Histogram({
    name: 'palette_router_batch_occupancy',
    help: 'Rows per decode forward pass',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly batchDistinctAdapters = new Histogram({
    name: 'palette_router_batch_distinct_adapters',
    help: 'Distinct adapters per decode forward pass',
    buckets: [0, 1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly cacheHits = new Counter({ name: 'palette_router_adapter_cache_hits_total', help: 'Adapter cache hits', registers: [this.registry] });
  readonly cacheMisses = new Counter({ name: 'palette_router_adapter_cache_misses_total', help: 'Adapter cache misses (loads)', registers: [this.registry] });
  readonly cacheEvictions = new Counter({ name: 'palette_router_adapter_cache_evictions_total', help: 'Adapters evicted for the memory budget', registers: [this.registry] });
  readonly cacheBytes = new Gauge({ name: 'palette_router_adapter_cache_bytes', help: 'Bytes of adapter weights held by the cache', registers: [this.registry] });
  readonly loadSeconds = new Histogram({
    name: 'palette_router_adapter_load_seconds',
    help: 'Adapter load latency (registry lookup + blob read + parse, or mixture combine)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  readonly adapterLoadSeconds = new Gauge({
    name: 'palette_router_adapter_last_load_seconds',
    help: 'Latest load time of each cached adapter (removed on eviction)',
    labelNames: ['adapter'],
    registers: [this.registry],
  });

  /** (time, tokens) per decode step inside the throughput window. */
  private readonly recent: { at: number; tokens: number }[] = [];

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'palette_router_' });
  }

  /** Records one decode forward pass. */
  observeStep(rows: number, distinctAdapters: number): void {
    this.batchOccupancy.observe(rows);
    this.batchDistinctAdapters.observe(distinctAdapters);
  }

  observeTokens(count: number, now = Date.now()): void {
    this.generatedTokens.inc(count);
    this.recent.push({ at: now, tokens: count });
    this.trim(now);
  }

  recentThroughput(now = Date.now()): number {
    this.trim(now);
    const tokens = this.recent.reduce((sum, e) => sum + e.tokens, 0);
    return tokens / (THROUGHPUT_WINDOW_MS / 1000);
  }

  private trim(now: number): void {
    while (this.recent.length > 0 && this.recent[0]!.at < now - THROUGHPUT_WINDOW_MS) this.recent.shift();
  }
}
