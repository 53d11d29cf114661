import { Inject, Injectable } from '@nestjs/common';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { routerErrors } from '../common/router-error';
import { RegistryClient } from '../registry/registry-client';
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
 */
@Injectable()
export class AdapterResolver {
  private readonly known = new Map<string, { adapter: ResolvedAdapter; expiresAt: number }>();
  private readonly inFlight = new Map<string, Promise<ResolvedAdapter>>();

  constructor(
    @Inject(ROUTER_CONFIG) private readonly config: RouterConfig,
    private readonly registry: RegistryClient,
  ) {}

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
    const [adapter, version] = await Promise.all([this.registry.adapter(ref.name), this.registry.adapterVersion(ref.name, ref.ref)]);
    if (adapter === null || adapter.deletedAt !== null || version === null) throw routerErrors.adapterNotFound(formatAdapterRef(ref), param);
    const resolved: ResolvedAdapter = {
      name: adapter.name,
      version: version.version,
      baseModel: adapter.baseModel,
      configSha256: version.configSha256,
      weightsSha256: version.weightsSha256,
      id: `${adapter.name}@v${version.version}`,
    };
    const ttl = IMMUTABLE_REF.test(ref.ref) ? Number.POSITIVE_INFINITY : this.config.registry.refTtlMs;
    this.known.set(key, { adapter: resolved, expiresAt: now + ttl });
    return resolved;
  }

  /** Forgets what `name` resolved to (after an unload, so the next use asks the registry again). */
  forget(name: string): void {
    for (const key of this.known.keys()) if (key.startsWith(`${name}@`)) this.known.delete(key);
  }
}
