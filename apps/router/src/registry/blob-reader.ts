import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { BlobNotFoundError, createBlobStore, type BlobStore } from '@palette/object-store';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';

/**
 * Reads content-addressed files: straight from the object store when the router shares it with the
 * registry (no HTTP hop, no registry CPU), else through a fallback download. Bytes are checked
 * against the sha256 either way.
 */
@Injectable()
export class BlobReader {
  private readonly store: BlobStore | undefined;

  constructor(@Inject(ROUTER_CONFIG) config: RouterConfig) {
    this.store = config.blobStore === undefined ? undefined : createBlobStore(config.blobStore);
  }

  async read(sha256: string, download: () => Promise<Buffer>): Promise<Buffer> {
    const bytes = (await this.fromStore(sha256)) ?? (await download());
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) throw new Error(`blob ${sha256}: content hashes to ${actual}`);
    return bytes;
  }

  private async fromStore(sha256: string): Promise<Buffer | undefined> {
    if (this.store === undefined) return undefined;
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of await this.store.get(sha256)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    } catch (error) {
      // Not shared with the registry (or not there yet): the registry's HTTP route still serves it.
      if (error instanceof BlobNotFoundError) return undefined;
      throw error;
    }
  }
}
