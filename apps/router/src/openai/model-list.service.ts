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

/** Lists what `model` can name: every base model, and every adapter as `base:adapter`. */
@Injectable()
export class ModelListService {
  constructor(private readonly registry: RegistryClient) {}

  async list(): Promise<ModelList> {
    const [bases, adapters] = await Promise.all([this.registry.baseModels(), this.registry.adapters()]);
    const seconds = (iso: string): number => Math.floor(new Date(iso).getTime() / 1000);
    return {
      object: 'list',
      data: [
        ...bases.map((b) => ({ id: b.name, object: 'model' as const, created: seconds(b.createdAt), owned_by: 'palette', root: b.name, parent: null })),
        ...adapters
          .filter((a) => a.deletedAt === null)
          .map((a) => ({ id: `${a.baseModel}:${a.name}`, object: 'model' as const, created: seconds(a.createdAt), owned_by: 'palette', root: a.baseModel, parent: a.baseModel })),
      ],
    };
  }
}
