/**
 * What the `embed` and `train-retriever` processors share: the base model as the frozen text
 * encoder (with the id the registry and the router use, so a retriever trained here opens there),
 * and the retriever of a space, kept loaded between embed jobs of the same space.
 */
import { rm } from 'node:fs/promises';
import * as path from 'node:path';
import { BaseModelTextEncoder, baseModelTextEncoderId, readRetrieverArtifact, Retriever, PeftCoreError } from '@palette/peft-core';
import type { BlobStore } from '@palette/object-store';
import type { ModelFiles } from '@palette/job-contracts';
import { downloadFiles } from '../blob-files';
import { WorkerError } from '../errors';
import { loadBaseModel, type BaseModel } from '../job-inputs';

export const BASE_WEIGHTS_FILE = 'model.safetensors';

/** The base's mean-pooled hidden states; its id names the base and its weights' digest. */
export async function baseTextEncoder(base: BaseModel, baseName: string, files: ModelFiles): Promise<BaseModelTextEncoder> {
  const weights = files[BASE_WEIGHTS_FILE];
  if (weights === undefined) throw new WorkerError('INPUT_INVALID', `base model ${baseName} has no ${BASE_WEIGHTS_FILE}: it cannot be a retriever's text encoder`);
  return BaseModelTextEncoder.create({
    config: base.config,
    weights: base.weights,
    tokenizer: { encode: (s) => base.tokenizer.encode(s, { addSpecialTokens: false }) },
    id: baseModelTextEncoderId(baseName, weights),
    ...(base.tokenizer.bosTokenId !== undefined ? { bosTokenId: base.tokenizer.bosTokenId } : {}),
  });
}

export interface OpenRetriever {
  readonly space: string;
  readonly base: BaseModel;
  readonly retriever: Retriever;
  readonly text: BaseModelTextEncoder;
}

let cached: Promise<OpenRetriever> | undefined;
let cachedSpace: string | undefined;

/**
 * The retriever of `space` (its artifact files + its base), loaded once and kept for the next
 * embed job of the same space: embed jobs come in runs (every upload of a base goes to the same
 * space), and loading the base as a text encoder dominates a single embedding.
 */
export function openSpaceRetriever(store: BlobStore, space: string, baseModel: { name: string; files: ModelFiles }, retrieverFiles: Readonly<Record<string, string>>, dir: string): Promise<OpenRetriever> {
  if (cached && cachedSpace === space) return cached;
  const previous = cached;
  cachedSpace = space;
  cached = (async () => {
    if (previous) await previous.then(closeRetriever, () => undefined);
    let base;
    let artifact;
    try {
      base = await loadBaseModel(store, baseModel.files, path.join(dir, 'base'));
      await downloadFiles(store, retrieverFiles, path.join(dir, 'retriever'));
      try {
        artifact = await readRetrieverArtifact(path.join(dir, 'retriever'));
      } catch (error) {
        throw new WorkerError('INPUT_INVALID', `retriever of space ${space}: ${(error as Error).message}`);
      }
    } finally {
      // Everything is in memory now; the files would only take disk space.
      await rm(dir, { recursive: true, force: true });
    }
    if (artifact.manifest.space !== space) throw new WorkerError('INPUT_INVALID', `the retriever files define space ${artifact.manifest.space}, the job names ${space}`);
    const text = await baseTextEncoder(base, baseModel.name, baseModel.files);
    try {
      return { space, base, retriever: await Retriever.create(artifact, text), text };
    } catch (error) {
      await text.dispose();
      if (error instanceof PeftCoreError) throw new WorkerError('INPUT_INVALID', error.message);
      throw error;
    }
  })();
  cached.catch(() => {
    if (cachedSpace === space) {
      cached = undefined;
      cachedSpace = undefined;
    }
  });
  return cached;
}

async function closeRetriever(r: OpenRetriever): Promise<void> {
  await r.retriever.dispose();
  await r.text.dispose();
}
