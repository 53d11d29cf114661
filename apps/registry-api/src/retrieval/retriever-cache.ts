import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BlobStore } from '@palette/object-store';
import { BaseModelTextEncoder, Retriever, baseModelTextEncoderId, loadCheckpoint, readRetrieverArtifact } from '@palette/peft-core';
import { loadTokenizerDir } from '@palette/peft-core/cli/commands';
import type { ModelConfig } from '@palette/peft-core';
import { domainErrors } from '../common';
import { DatabaseService } from '../database';
import { BLOB_STORE } from '../storage/blob-store.provider';

/** A loaded space: the retriever (both sides) and the base's architecture (to parse adapters). */
export interface LoadedRetriever {
  readonly space: string;
  readonly retriever: Retriever;
  readonly baseConfig: ModelConfig;
  readonly baseName: string;
}

/** Spaces kept loaded (a few bases); the least recently used one is disposed past this. */
const MAX_LOADED = 4;

/**
 * Retrievers loaded in this process, one per embedding space: the retriever artifact's files and
 * the base model's files (config, weights, tokenizer) are read from the blob store into a temp dir,
 * the base becomes the frozen text encoder (id = baseModelTextEncoderId(name, weights sha256), as the
 * training side names it), and both stay in memory. Loads are single-flight per space.
 */
@Injectable()
export class RetrieverCache implements OnApplicationShutdown {
  private readonly loaded = new Map<string, Promise<LoadedRetriever>>();

  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
  ) {}

  get(space: string): Promise<LoadedRetriever> {
    let entry = this.loaded.get(space);
    if (entry) {
      // Re-insert: Map order is the LRU order.
      this.loaded.delete(space);
      this.loaded.set(space, entry);
      return entry;
    }
    entry = this.load(space);
    entry.catch(() => this.loaded.delete(space));
    this.loaded.set(space, entry);
    while (this.loaded.size > MAX_LOADED) {
      const [oldest, value] = this.loaded.entries().next().value as [string, Promise<LoadedRetriever>];
      this.loaded.delete(oldest);
      void value.then((l) => dispose(l), () => undefined);
    }
    return entry;
  }

  private async load(space: string): Promise<LoadedRetriever> {
    const row = await this.db.prisma.embeddingSpace.findUnique({
      where: { id: space },
      select: {
        artifact: { select: { id: true, files: { select: { path: true, sha256: true } } } },
        baseModel: { select: { name: true, files: { select: { path: true, blobSha256: true } } } },
      },
    });
    if (!row) throw domainErrors.notFound('embedding space', space);
    if (!row.artifact) throw domainErrors.conflict(`embedding space ${space} has no retriever artifact`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palette-retriever-'));
    try {
      await mkdirs(dir);
      for (const f of row.artifact.files) await this.materialise(f.sha256, path.join(dir, 'retriever', f.path));
      const weights = row.baseModel.files.find((f) => f.path === 'model.safetensors');
      if (!weights) throw domainErrors.conflict(`base model ${row.baseModel.name} has no model.safetensors: it cannot be the retriever's text encoder`);
      for (const f of row.baseModel.files) {
        if (!/^[A-Za-z0-9._-]+$/.test(f.path)) continue; // base files live flat; anything nested is not needed here
        await this.materialise(f.blobSha256, path.join(dir, 'base', f.path));
      }
      const artifact = await readRetrieverArtifact(path.join(dir, 'retriever'));
      const checkpoint = await loadCheckpoint(path.join(dir, 'base'));
      const tokenizer = await loadTokenizerDir(path.join(dir, 'base'));
      const text = await BaseModelTextEncoder.create({
        config: checkpoint.config,
        weights: checkpoint.weights,
        tokenizer: { encode: (s) => tokenizer.encode(s, { addSpecialTokens: false }) },
        id: baseModelTextEncoderId(row.baseModel.name, weights.blobSha256),
        ...(tokenizer.bosTokenId !== undefined ? { bosTokenId: tokenizer.bosTokenId } : {}),
      });
      const retriever = await Retriever.create(artifact, text).catch(async (e: unknown) => {
        await text.dispose();
        throw e;
      });
      if (retriever.space !== space) {
        await dispose({ space, retriever, baseConfig: checkpoint.config, baseName: row.baseModel.name });
        throw domainErrors.conflict(`the retriever artifact of space ${space} defines space ${retriever.space}`);
      }
      return { space, retriever, baseConfig: checkpoint.config, baseName: row.baseModel.name };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async materialise(sha256: string, target: string): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.blobs.get(sha256)) chunks.push(chunk as Buffer);
    await writeFile(target, Buffer.concat(chunks));
  }

  async onApplicationShutdown(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    for (const entry of all) await entry.then(dispose, () => undefined);
  }
}

async function mkdirs(dir: string): Promise<void> {
  await mkdir(path.join(dir, 'retriever'));
  await mkdir(path.join(dir, 'base'));
}

async function dispose(l: LoadedRetriever): Promise<void> {
  await l.retriever.dispose();
  // The text encoder belongs to whoever created it: here, this cache.
  await l.retriever.textEncoder.dispose();
}
