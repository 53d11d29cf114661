import { Inject, Injectable } from '@nestjs/common';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { routerErrors } from '../common/router-error';
import type { RegistryAdapter, RegistryAdapterVersion, RegistryArtifact, RegistryArtifactKind, RegistryBaseModel, RegistryPage } from './registry-types';

/** Adapter files as the registry names them in /files/:file. */
export type AdapterFileName = 'adapter_config.json' | 'adapter_model.safetensors';

/**
 * The router's client of registry-api's REST catalog (the router never touches the database).
 * Lookups return null on 404; transport failures and other statuses become `registry_unavailable`.
 */
@Injectable()
export class RegistryClient {
  private readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(@Inject(ROUTER_CONFIG) config: RouterConfig) {
    this.baseUrl = config.registry.url;
    this.headers = { authorization: `Bearer ${config.registry.apiKey}`, accept: 'application/json' };
    this.timeoutMs = config.registry.timeoutMs;
  }

  baseModel(name: string): Promise<RegistryBaseModel | null> {
    return this.getJson<RegistryBaseModel>(`/api/v1/base-models/${encodeURIComponent(name)}`);
  }

  async baseModels(): Promise<RegistryBaseModel[]> {
    return (await this.getJson<RegistryBaseModel[]>('/api/v1/base-models')) ?? [];
  }

  adapter(name: string): Promise<RegistryAdapter | null> {
    return this.getJson<RegistryAdapter>(`/api/v1/adapters/${encodeURIComponent(name)}`);
  }

  /** One version by vN, N, latest or alias. */
  adapterVersion(name: string, ref: string): Promise<RegistryAdapterVersion | null> {
    return this.getJson<RegistryAdapterVersion>(`/api/v1/adapters/${encodeURIComponent(name)}/versions/${encodeURIComponent(ref)}`);
  }

  /** Every (not deleted) adapter, all pages. */
  adapters(): Promise<RegistryAdapter[]> {
    return this.allPages<RegistryAdapter>('/api/v1/adapters?limit=200');
  }

  adapterFile(name: string, version: number, file: AdapterFileName): Promise<Buffer> {
    return this.getBytes(`/api/v1/adapters/${encodeURIComponent(name)}/versions/v${version}/files/${file}`);
  }

  baseModelFile(name: string, file: string): Promise<Buffer> {
    return this.getBytes(`/api/v1/base-models/${encodeURIComponent(name)}/files/${encodeURIComponent(file)}`);
  }

  /** A router / retriever / discriminator by name: `version`, or the latest one not deleted; null when there is none. */
  getArtifact(kind: RegistryArtifactKind, name: string, version?: number): Promise<RegistryArtifact | null> {
    const query = version === undefined ? '' : `?version=${version}`;
    return this.getJson<RegistryArtifact>(`/api/v1/artifacts/${encodeURIComponent(kind)}/${encodeURIComponent(name)}${query}`);
  }

  /**
   * Every artifact of `kind` not deleted (optionally only those of one base, by name): all versions,
   * newest first, all pages (GET /api/v1/artifacts?kind=; its largest page is 100).
   */
  listArtifacts(kind: RegistryArtifactKind, options: { readonly baseModel?: string } = {}): Promise<RegistryArtifact[]> {
    const base = options.baseModel === undefined ? '' : `&baseModel=${encodeURIComponent(options.baseModel)}`;
    return this.allPages<RegistryArtifact>(`/api/v1/artifacts?kind=${encodeURIComponent(kind)}${base}&limit=100`);
  }

  /** One file of an artifact (by artifact id, so a later version under the same name never swaps the bytes). */
  artifactFile(artifactId: string, path: string): Promise<Buffer> {
    return this.getBytes(`/api/v1/artifacts/id/${encodeURIComponent(artifactId)}/files/${encodeURIComponent(path)}`);
  }

  /** Resolves when the registry answers its readiness probe. */
  async ping(): Promise<boolean> {
    try {
      const res = await this.fetch('/readyz');
      await res.arrayBuffer();
      return res.ok;
    } catch {
      return false;
    }
  }

  /** Follows `nextCursor` from `path` (which already has a query string) to the last page. */
  private async allPages<T>(path: string): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | null = null;
    do {
      const page: RegistryPage<T> | null = await this.getJson<RegistryPage<T>>(cursor === null ? path : `${path}&cursor=${encodeURIComponent(cursor)}`);
      // 404: a registry without this list route (an older one) lists nothing rather than failing /v1/models.
      if (page === null) break;
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return all;
  }

  private async getJson<T>(path: string): Promise<T | null> {
    const res = await this.fetch(path);
    if (res.status === 404) {
      await res.arrayBuffer();
      return null;
    }
    if (!res.ok) throw routerErrors.registryUnavailable(`GET ${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    return (await res.json()) as T;
  }

  private async getBytes(path: string): Promise<Buffer> {
    const res = await this.fetch(path);
    if (!res.ok) throw routerErrors.registryUnavailable(`GET ${path} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    return Buffer.from(await res.arrayBuffer());
  }

  private async fetch(path: string): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, { headers: this.headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw routerErrors.registryUnavailable(`GET ${path}: ${(error as Error).message}`);
    }
  }
}
