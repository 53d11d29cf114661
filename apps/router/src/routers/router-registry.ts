import { Inject, Injectable } from '@nestjs/common';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { routerErrors } from '../common/router-error';
import type { RegistryFile } from '../registry/registry-types';

/** The parts of registry-api's ArtifactDto (GET /api/v1/artifacts/...) a router artifact needs. */
export interface RegistryRouterArtifact {
  readonly id: string;
  readonly kind: string;
  readonly name: string;
  readonly version: number;
  readonly baseModel: { readonly id: string; readonly name: string } | null;
  readonly files: readonly RegistryFile[];
  readonly createdAt: string;
  readonly deletedAt?: string | null;
}

interface ArtifactPage {
  readonly items: readonly RegistryRouterArtifact[];
  readonly nextCursor: string | null;
}

/**
 * Router artifacts in the registry (contract /tmp/coord/artifacts.md): one by name (latest or
 * version N), all of them for /v1/models, and their files. Kept next to the router-serving code
 * so the one place that knows the artifact routes is here; 404 → null, other failures →
 * registry_unavailable (502), like RegistryClient.
 */
@Injectable()
export class RouterRegistry {
  private readonly baseUrl: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(@Inject(ROUTER_CONFIG) config: RouterConfig) {
    this.baseUrl = config.registry.url;
    this.headers = { authorization: `Bearer ${config.registry.apiKey}`, accept: 'application/json' };
    this.timeoutMs = config.registry.timeoutMs;
  }

  async router(name: string, version?: number): Promise<RegistryRouterArtifact | null> {
    const query = version === undefined ? '' : `?version=${version}`;
    const res = await this.fetch(`/api/v1/artifacts/router/${encodeURIComponent(name)}${query}`);
    if (res.status === 404) {
      await res.arrayBuffer();
      return null;
    }
    return (await this.json(res)) as RegistryRouterArtifact;
  }

  /** Every router artifact (all versions, newest first), all pages. */
  async routers(): Promise<RegistryRouterArtifact[]> {
    const all: RegistryRouterArtifact[] = [];
    let cursor: string | null = null;
    do {
      const res = await this.fetch(`/api/v1/artifacts?kind=router&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      // A registry without the artifacts API lists no routers rather than failing /v1/models.
      if (res.status === 404) {
        await res.arrayBuffer();
        return all;
      }
      const page = (await this.json(res)) as ArtifactPage;
      all.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    return all;
  }

  async file(artifact: RegistryRouterArtifact, path: string): Promise<Buffer> {
    const route = `/api/v1/artifacts/id/${encodeURIComponent(artifact.id)}/files/${encodeURIComponent(path)}`;
    const res = await this.fetch(route);
    if (!res.ok) throw routerErrors.registryUnavailable(`GET ${route} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    return Buffer.from(await res.arrayBuffer());
  }

  private async json(res: Response): Promise<unknown> {
    if (!res.ok) throw routerErrors.registryUnavailable(`GET ${res.url} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
    return res.json();
  }

  private async fetch(path: string): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, { headers: this.headers, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      throw routerErrors.registryUnavailable(`GET ${path}: ${(error as Error).message}`);
    }
  }
}
