import { Injectable } from '@nestjs/common';
import { RegistryClient } from '../registry/registry-client';

/** One entry of GET /v1/models. Adapters name their base in `parent` and `root` (as vLLM lists LoRAs). */
export interface ModelCard {
  readonly id: string;
  readonly object: 'model';
  readonly created: number;
  readonly owned_by: string;
  readonly root: string;
  readonly parent: string | null;
}

export interface ModelList {
  readonly object: 'list';
  readonly data: ModelCard[];
}

/**
 * Lists what `model` can name: every base model, every adapter as `base:adapter`, and every learned
 * router by name (latest version; `owned_by`, `parent` and `root` = the base it was trained for).
 */
@Injectable()
export class ModelListService {
  constructor(private readonly registry: RegistryClient) {}

  async list(): Promise<ModelList> {
    const [bases, adapters, routers] = await Promise.all([this.registry.baseModels(), this.registry.adapters(), this.registry.listArtifacts('router')]);
    const latest = new Map<string, (typeof routers)[number]>();
    for (const r of routers) if (r.deletedAt === null && r.baseModel !== null && (latest.get(r.name)?.version ?? 0) < r.version) latest.set(r.name, r);
    const seconds = (iso: string): number => Math.floor(new Date(iso).getTime() / 1000);
    return {
      object: 'list',
      data: [
        ...bases.map((b) => ({ id: b.name, object: 'model' as const, created: seconds(b.createdAt), owned_by: 'palette', root: b.name, parent: null })),
        ...adapters
          .filter((a) => a.deletedAt === null)
          .map((a) => ({ id: `${a.baseModel}:${a.name}`, object: 'model' as const, created: seconds(a.createdAt), owned_by: 'palette', root: a.baseModel, parent: a.baseModel })),
        ...[...latest.values()].map((r) => ({ id: r.name, object: 'model' as const, created: seconds(r.createdAt), owned_by: r.baseModel!.name, root: r.baseModel!.name, parent: r.baseModel!.name })),
      ],
    };
  }
}
