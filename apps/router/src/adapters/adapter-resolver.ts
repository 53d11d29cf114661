import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { routerErrors } from '../common/router-error';
import { RegistryClient } from '../registry/registry-client';
import type { RegistryAdapter } from '../registry/registry-types';
import { type AdapterRef, formatAdapterRef } from './adapter-ref';

/** An adapter reference pinned to one immutable registry version. */
export interface ResolvedAdapter {
  readonly name: string;
  readonly version: number;
  readonly baseModel: string;
  readonly configSha256: string;
  readonly weightsSha256: string;
  /** `name@vN`: what responses report as the adapter used. */
  readonly id: string;
}

const IMMUTABLE_REF = /^v?\d+$/;

/**
 * Turns `adapter@ref` into a version through the registry. `vN`/`N` never change meaning and are
 * remembered for good; `latest` and aliases can move, so after ADAPTER_REF_TTL_MS they are looked up
 * again in the background (the request that notices still uses the known version).
 *
 * A reference needs two facts: the version (number and file hashes: GET …/versions/:ref) and the
 * adapter's base model (GET /adapters/:name). An adapter's base never changes (the same assumption
 * that lets `name@vN` be remembered for good), so the base is remembered per adapter name, learned
 * from every adapter lookup and, at start, from one paged listing of the catalog. A cold load of an
 * adapter the router has seen listed then costs the registry one lookup instead of two: that second
 * lookup was a quarter of the registry's work per cold load (apps/router/README.md, "Bench").
 * Soft-deleted adapters still fail: the version lookup answers 404 for them.
 */
@Injectable()
export class AdapterResolver implements OnApplicationBootstrap {
  private readonly logger = new Logger('adapter-resolver');
  private readonly known = new Map<string, { adapter: ResolvedAdapter; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<ResolvedAdapter>>();
  /** Adapter name → its base model's name. */
  private readonly baseOf = new Map<string, string>();

  constructor(
    @Inject(ROUTER_CONFIG) private readonly config: RouterConfig,
    private readonly registry: RegistryClient,
  ) {}

  /** Learns the catalog's adapter → base pairs in the background (a failure only costs lookups later). */
  onApplicationBootstrap(): void {
    void this.registry.adapters().then(
      (adapters) => this.learn(adapters),
      (error: unknown) => this.logger.warn(`listing adapters failed (each adapter's base is looked up on first use): ${(error as Error).message}`),
    );
  }

  /** Remembers each listed adapter's base model (deleted ones are skipped: they must look up as 404). */
  learn(adapters: readonly RegistryAdapter[]): void {
    for (const a of adapters) if (a.deletedAt === null) this.baseOf.set(a.name, a.baseModel);
  }

  async resolve(ref: AdapterRef, param: string): Promise<ResolvedAdapter> {
    const key = `${ref.name}@${ref.ref}`;
    const cached = this.known.get(key);
    if (cached !== undefined) {
      // Stale-while-revalidate: a request never waits on the registry for a reference it has seen;
      // a moved alias takes effect for the requests after the background refresh lands.
      if (cached.expiresAt <= Date.now()) this.refresh(key, ref, param).catch(() => this.known.delete(key));
      return cached.adapter;
    }
    return this.refresh(key, ref, param);
  }

  /** One registry lookup per reference at a time, however many requests ask. */
  private refresh(key: string, ref: AdapterRef, param: string): Promise<ResolvedAdapter> {
    let pending = this.inFlight.get(key);
    if (pending === undefined) {
      pending = this.lookup(key, ref, param).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async lookup(key: string, ref: AdapterRef, param: string): Promise<ResolvedAdapter> {
    const now = Date.now();
    const knownBase = this.baseOf.get(ref.name);
    const [baseModel, version] = await Promise.all([knownBase ?? this.lookupBase(ref.name), this.registry.adapterVersion(ref.name, ref.ref)]);
    if (baseModel === null || version === null) {
      // Deleted (or gone): the next use asks the registry for both facts again.
      this.baseOf.delete(ref.name);
      throw routerErrors.adapterNotFound(formatAdapterRef(ref), param);
    }
    const resolved: ResolvedAdapter = {
      name: ref.name,
      version: version.version,
      baseModel,
      configSha256: version.configSha256,
      weightsSha256: version.weightsSha256,
      id: `${ref.name}@v${version.version}`,
    };
    const ttl = IMMUTABLE_REF.test(ref.ref) ? Number.POSITIVE_INFINITY : this.config.registry.refTtlMs;
    this.known.set(key, { adapter: resolved, expiresAt: now + ttl });
    return resolved;
  }

  /** The adapter's base model, or null when it does not exist or is deleted; remembered when found. */
  private async lookupBase(name: string): Promise<string | null> {
    const adapter = await this.registry.adapter(name);
    if (adapter === null || adapter.deletedAt !== null) return null;
    this.baseOf.set(adapter.name, adapter.baseModel);
    return adapter.baseModel;
  }

  /** Forgets what `name` resolved to (after an unload, so the next use asks the registry again). */
  forget(name: string): void {
    for (const key of this.known.keys()) if (key.startsWith(`${name}@`)) this.known.delete(key);
    this.baseOf.delete(name);
  }
}
