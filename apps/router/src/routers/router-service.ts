import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { decodeRouterArtifact, parseExpertRef, PeftCoreError, ROUTER_MANIFEST_FILE, ROUTER_TENSORS_FILE, RoutedModel, type LoraWeights, type RouterArtifact } from '@palette/peft-core';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { RouterError, routerErrors } from '../common/router-error';
import { AdapterService } from '../adapters/adapter-service';
import type { AdapterRef } from '../adapters/adapter-ref';
import type { AdapterLease } from '../adapters/adapter-cache';
import type { ResolvedAdapter } from '../adapters/adapter-resolver';
import { RouterMetrics } from '../metrics/router-metrics';
import { BaseModelService, type ServedBaseModel } from '../models/base-model-service';
import { BlobReader } from '../registry/blob-reader';
import { RegistryClient } from '../registry/registry-client';
import type { RegistryArtifact } from '../registry/registry-types';
import { RoutedEngine } from './routed-engine';

/** A learned router ready to serve: its base, artifact, resolved experts and its own batching engine. */
export interface ServedRouter {
  /** `name@vN`. */
  readonly id: string;
  readonly name: string;
  readonly version: number;
  readonly base: ServedBaseModel;
  readonly artifact: RouterArtifact;
  /** MeteoRA experts / X-Cross streams as resolved in the registry (empty for FlyLoRA, which carries its own tensors). */
  readonly experts: readonly ResolvedAdapter[];
  readonly engine: RoutedEngine;
}

/**
 * Routers by name: `model: "<router>[@vN]"` (or `<base>:<router>`) resolves to a router artifact
 * in the registry, whose files are read (object store first, registry download otherwise),
 * validated by peft-core, and whose experts are loaded through the adapter cache (same checks as
 * any adapter: they must exist and belong to the router's base). A loaded router is kept per
 * artifact version; the name → version resolution is re-checked after ADAPTER_REF_TTL_MS.
 */
@Injectable()
export class RouterService implements OnApplicationShutdown {
  private readonly logger = new Logger('routers');
  private readonly loaded = new Map<string, Promise<ServedRouter>>();
  private readonly names = new Map<string, { at: number; artifact: RegistryArtifact }>();

  constructor(
    @Inject(ROUTER_CONFIG) private readonly config: RouterConfig,
    private readonly registry: RegistryClient,
    private readonly blobs: BlobReader,
    private readonly baseModels: BaseModelService,
    private readonly adapters: AdapterService,
    private readonly metrics: RouterMetrics,
  ) {}

  /** The router artifact `ref` names, or undefined when the registry has none by that name/version. */
  async find(ref: AdapterRef): Promise<RegistryArtifact | undefined> {
    const version = routerVersion(ref);
    if (version === null) return undefined; // aliases name adapters only
    const key = `${ref.name}@${version ?? 'latest'}`;
    const cached = this.names.get(key);
    if (cached && (version !== undefined || Date.now() - cached.at < this.config.registry.refTtlMs)) return cached.artifact;
    const artifact = await this.registry.getArtifact('router', ref.name, version);
    // The registry's name lookup already leaves soft-deleted versions out; a deleted router is never served either way.
    if (artifact === null || artifact.deletedAt !== null) return undefined;
    this.names.set(key, { at: Date.now(), artifact });
    return artifact;
  }

  /** Loads (once per artifact version) and returns the router; `base`, when given, must be its base (400 otherwise). */
  async acquire(artifact: RegistryArtifact, base: string | undefined): Promise<ServedRouter> {
    const routerBase = artifact.baseModel?.name;
    if (routerBase === undefined) throw routerErrors.invalid(`router '${artifact.name}@v${artifact.version}' names no base model`, 'model');
    if (base !== undefined && base !== routerBase) throw routerErrors.routerIncompatible(`${artifact.name}@v${artifact.version}`, routerBase, base);
    let served = this.loaded.get(artifact.id);
    if (served === undefined) {
      served = this.load(artifact, routerBase);
      this.loaded.set(artifact.id, served);
      served.catch(() => this.loaded.delete(artifact.id));
    }
    return served;
  }

  async onApplicationShutdown(): Promise<void> {
    for (const served of this.loaded.values()) {
      const s = await served.catch(() => undefined);
      await s?.engine.close();
    }
  }

  private async load(info: RegistryArtifact, baseName: string): Promise<ServedRouter> {
    const started = Date.now();
    const id = `${info.name}@v${info.version}`;
    const base = await this.baseModels.get(baseName);
    const read = async (path: string): Promise<Uint8Array> => {
      const file = info.files.find((f) => f.path === path);
      if (file === undefined) throw routerErrors.invalid(`router ${id} has no ${path} in the registry`, 'model');
      const bytes = await this.blobs.read(file.sha256, () => this.registry.artifactFile(info.id, path));
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    };
    let artifact: RouterArtifact;
    try {
      artifact = decodeRouterArtifact({ manifest: await read(ROUTER_MANIFEST_FILE), tensors: await read(ROUTER_TENSORS_FILE) });
    } catch (error) {
      if (error instanceof PeftCoreError) throw routerErrors.invalid(`router ${id} cannot be served: ${error.message}`, 'model');
      throw error;
    }
    const kind = artifact.manifest.kind;
    // FlyLoRA's artifact is a complete adapter; MeteoRA and X-Cross mix the adapters they name.
    const refs = kind === 'flylora' ? [] : artifact.manifest.experts.map(expertRef);
    const leases: AdapterLease[] = [];
    const experts: ResolvedAdapter[] = [];
    let model: RoutedModel;
    try {
      for (const ref of refs) {
        const served = await this.adapters.acquire(base, ref, 'model');
        leases.push(served.lease);
        experts.push(served.components[0]!.adapter);
      }
      const weights: LoraWeights[] = leases.map((l) => l.weights);
      // The routed model stacks its own copy of the experts, so the cache may evict them afterwards.
      model = RoutedModel.create({ config: base.config, weights: base.weights }, artifact, weights, { device: this.config.device });
    } catch (error) {
      if (error instanceof RouterError) throw error;
      if (error instanceof PeftCoreError) throw routerErrors.invalid(`router ${id} does not fit its experts or base: ${error.message}`, 'model');
      throw error;
    } finally {
      for (const l of leases) l.release();
    }
    const engine = new RoutedEngine(
      model,
      { maxBatch: this.config.maxBatch, maxQueue: this.config.maxQueue, retryAfterSeconds: this.config.retryAfterSeconds, padTokenId: base.tokenizer.eosTokenId ?? 0 },
      this.metrics,
    );
    this.logger.log(`router ${id} (${kind}, ${artifact.manifest.experts.length} experts) on ${baseName} loaded in ${Date.now() - started} ms`);
    return { id, name: info.name, version: info.version, base, artifact, experts, engine };
  }
}

/** undefined = latest; a number = that version; null = not a version (an alias). */
function routerVersion(ref: AdapterRef): number | undefined | null {
  if (ref.ref === 'latest') return undefined;
  const m = /^v?(\d+)$/.exec(ref.ref);
  return m === null ? null : Number(m[1]);
}

/** The manifest's "name@version" as an adapter reference ("3" → v3; "v3", aliases as written). */
function expertRef(text: string): AdapterRef {
  const { name, version } = parseExpertRef(text);
  return { name, ref: /^\d+$/.test(version) ? `v${version}` : version };
}
