import { Inject, Injectable } from '@nestjs/common';
import { combineAdapters, loraTargetsOf, readPeftAdapter, type CombinationMethod, type LoraWeights, type ModelConfig } from '@palette/peft-core';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { routerErrors } from '../common/router-error';
import { RouterMetrics } from '../metrics/router-metrics';
import { BlobReader } from '../registry/blob-reader';
import { RegistryClient } from '../registry/registry-client';
import { AdapterCache, type AdapterLease, type CacheEntryInfo } from './adapter-cache';
import type { AdapterRef } from './adapter-ref';
import { AdapterResolver, type ResolvedAdapter } from './adapter-resolver';

/** The base model an adapter is served on: its name and architecture. */
export interface AdapterTarget {
  readonly name: string;
  readonly config: ModelConfig;
}

export interface MixtureItem {
  readonly ref: AdapterRef;
  readonly weight: number;
  /** Request field that named it, for errors (e.g. adapters[1].id). */
  readonly param: string;
}

export interface MixtureOptions {
  readonly method: CombinationMethod;
  readonly density?: number;
  readonly svdRank?: number;
  readonly majoritySign?: 'total' | 'frequency';
  readonly seed?: number;
}

/** A leased adapter (single or mixture) and what it is made of, for the response's `routing`. */
export interface ServedAdapter {
  readonly lease: AdapterLease;
  readonly components: readonly { readonly adapter: ResolvedAdapter; readonly weight: number }[];
}

/**
 * Adapters for requests: resolves registry references, checks they belong to the requested base,
 * loads them (object store first, registry download as fallback) into the budgeted AdapterCache,
 * and builds explicit mixtures with combineAdapters, cached under a key naming the whole mixture.
 */
@Injectable()
export class AdapterService {
  readonly cache: AdapterCache;

  constructor(
    @Inject(ROUTER_CONFIG) config: RouterConfig,
    private readonly resolver: AdapterResolver,
    private readonly registry: RegistryClient,
    private readonly blobs: BlobReader,
    metrics: RouterMetrics,
  ) {
    this.cache = new AdapterCache(config.adapterCacheBytes, {
      hit: () => metrics.cacheHits.inc(),
      miss: () => metrics.cacheMisses.inc(),
      loaded: (key, ms) => {
        metrics.loadSeconds.observe(ms / 1000);
        metrics.adapterLoadSeconds.set({ adapter: key }, ms / 1000);
      },
      evicted: (key) => {
        metrics.cacheEvictions.inc();
        metrics.adapterLoadSeconds.remove({ adapter: key });
      },
      bytes: (total) => metrics.cacheBytes.set(total),
    });
  }

  /** Resolves `ref` and checks it was built for `base` (404 unknown, 400 other base). */
  async resolveFor(base: AdapterTarget, ref: AdapterRef, param: string): Promise<ResolvedAdapter> {
    const adapter = await this.resolver.resolve(ref, param);
    if (adapter.baseModel !== base.name) throw routerErrors.adapterIncompatible(adapter.id, adapter.baseModel, base.name, param);
    return adapter;
  }

  /** Resolves a reference without a base (a bare `adapter@ref` model name names its own base). */
  resolve(ref: AdapterRef, param: string): Promise<ResolvedAdapter> {
    return this.resolver.resolve(ref, param);
  }

  async acquire(base: AdapterTarget, ref: AdapterRef, param: string): Promise<ServedAdapter> {
    const adapter = await this.resolveFor(base, ref, param);
    const lease = await this.cache.acquire(this.key(base, adapter), () => this.loadFromRegistry(base, adapter));
    return { lease, components: [{ adapter, weight: 1 }] };
  }

  /** Combines the items into one adapter (cached by the mixture's full description). */
  async acquireMixture(base: AdapterTarget, items: readonly MixtureItem[], options: MixtureOptions): Promise<ServedAdapter> {
    const resolved = await Promise.all(items.map((i) => this.resolveFor(base, i.ref, i.param)));
    const parts = resolved.map((a, i) => `${a.id}*${items[i]!.weight}`).join(',');
    const settings = [options.method, options.density ?? '', options.svdRank ?? '', options.majoritySign ?? '', options.seed ?? ''].join(':');
    const key = `${base.name}/mix:${settings}|${parts}`;
    const lease = await this.cache.acquire(key, async () => {
      const leases = await Promise.all(resolved.map((a) => this.cache.acquire(this.key(base, a), () => this.loadFromRegistry(base, a))));
      try {
        return combineAdapters(
          leases.map((l, i) => ({ weights: l.weights, weight: items[i]!.weight })),
          options.method,
          {
            ...(options.density !== undefined ? { density: options.density } : {}),
            ...(options.svdRank !== undefined ? { svdRank: options.svdRank } : {}),
            ...(options.majoritySign !== undefined ? { majoritySign: options.majoritySign } : {}),
            ...(options.seed !== undefined ? { seed: options.seed } : {}),
          },
        );
      } finally {
        for (const l of leases) l.release();
      }
    });
    return { lease, components: resolved.map((adapter, i) => ({ adapter, weight: items[i]!.weight })) };
  }

  /** Loads and pins (vLLM load_lora_adapter, PRELOAD_ADAPTERS). */
  async pin(base: AdapterTarget, ref: AdapterRef, param: string): Promise<{ adapter: ResolvedAdapter; entry: CacheEntryInfo }> {
    const adapter = await this.resolveFor(base, ref, param);
    const entry = await this.cache.pin(this.key(base, adapter), () => this.loadFromRegistry(base, adapter));
    return { adapter, entry };
  }

  /** Drops every cached version of `name` on `base` (vLLM unload_lora_adapter); how many entries went. */
  unload(base: string, name: string): number {
    let removed = 0;
    for (const entry of this.cache.list()) {
      if (entry.key.startsWith(`${base}/${name}@v`) && this.cache.unload(entry.key)) removed += 1;
    }
    this.resolver.forget(name);
    return removed;
  }

  private key(base: AdapterTarget, adapter: ResolvedAdapter): string {
    return `${base.name}/${adapter.id}`;
  }

  /** Reads both files (object store, else registry), parses and checks them against the base. */
  private async loadFromRegistry(base: AdapterTarget, adapter: ResolvedAdapter): Promise<LoraWeights> {
    const [configJson, safetensors] = await Promise.all([
      this.blobs.read(adapter.configSha256, () => this.registry.adapterFile(adapter.name, adapter.version, 'adapter_config.json')),
      this.blobs.read(adapter.weightsSha256, () => this.registry.adapterFile(adapter.name, adapter.version, 'adapter_model.safetensors')),
    ]);
    const peft = readPeftAdapter({ configJson: new Uint8Array(configJson), safetensors: new Uint8Array(safetensors.buffer, safetensors.byteOffset, safetensors.byteLength) }, base.config);
    if (peft.embeddings.size > 0 || peft.fullTensors.size > 0) {
      throw routerErrors.invalid(`adapter ${adapter.id} has embedding LoRA or modules_to_save tensors, which the router cannot serve per request; merge it into a base model instead`);
    }
    // Refuses DoRA and modules outside the decoder's projections now, not in the middle of a batch.
    loraTargetsOf(base.config, [peft.weights]);
    return peft.weights;
  }
}
