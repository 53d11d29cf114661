import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import { Tokenizer, type TokenizerConfigJson } from '@palette/peft-core/tokenizer/index';
import { TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, type ModelFiles } from '@palette/job-contracts';
import { domainErrors } from '../common';
import { BLOB_STORE } from '../storage/blob-store.provider';

/** Tokenizers parsed from base models' tokenizer.json blobs, kept by blob address (a few bases, each parsed once). */
@Injectable()
export class BaseTokenizers {
  private readonly cache = new Map<string, Promise<Tokenizer>>();
  private static readonly MAX_CACHED = 8;

  constructor(@Inject(BLOB_STORE) private readonly blobs: BlobStore) {}

  /** The tokenizer of a base model's files (tokenizer.json, plus tokenizer_config.json for BOS/EOS when present). */
  forModel(baseModel: string, files: ModelFiles): Promise<Tokenizer> {
    const json = files[TOKENIZER_FILE];
    if (json === undefined) throw domainErrors.validation(`base model "${baseModel}" has no ${TOKENIZER_FILE}: jobs need one to tokenise the dataset`, { baseModel });
    const config = files[TOKENIZER_CONFIG_FILE];
    const key = `${json}:${config ?? ''}`;
    let loaded = this.cache.get(key);
    if (!loaded) {
      loaded = this.load(json, config);
      loaded.catch(() => this.cache.delete(key));
      if (this.cache.size >= BaseTokenizers.MAX_CACHED) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, loaded);
    }
    return loaded;
  }

  private async load(jsonSha: string, configSha: string | undefined): Promise<Tokenizer> {
    const json: unknown = JSON.parse((await this.read(jsonSha)).toString('utf8'));
    const config = configSha === undefined ? undefined : (JSON.parse((await this.read(configSha)).toString('utf8')) as TokenizerConfigJson);
    return Tokenizer.fromJson(json, config);
  }

  private async read(sha256: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.blobs.get(sha256)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}
