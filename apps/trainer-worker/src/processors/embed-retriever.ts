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

interface CacheEntry {
  readonly promise: Promise<OpenRetriever>;
  /** Jobs using it now: an evicted entry is disposed when the last one releases it. */
  users: number;
  evicted: boolean;
}

/** Spaces kept loaded (embed jobs of a few bases may interleave); least recently used first out. */
const MAX_LOADED = 2;
const loaded = new Map<string, CacheEntry>();

/** A retriever leased to one job: call release() when done with it. */
export interface RetrieverLease {
  readonly open: OpenRetriever;
  release(): void;
}

/**
 * The retriever of `space` (its artifact files + its base), loaded once and kept for the next
 * embed jobs of the same space: embed jobs come in runs (every upload of a base goes to the same
 * space), and loading the base as a text encoder dominates a single embedding. Leased, so an
 * entry evicted while a concurrent job still embeds with it is disposed only after that job.
 */
export async function leaseSpaceRetriever(store: BlobStore, space: string, baseModel: { name: string; files: ModelFiles }, retrieverFiles: Readonly<Record<string, string>>, dir: string): Promise<RetrieverLease> {
  let entry = loaded.get(space);
  if (entry) loaded.delete(space); // re-inserted below: Map order is the LRU order
  else entry = { promise: load(store, space, baseModel, retrieverFiles, dir), users: 0, evicted: false };
  loaded.set(space, entry);
  entry.users++;
  for (const [key, other] of loaded) {
    if (loaded.size <= MAX_LOADED) break;
    if (other === entry) continue;
    loaded.delete(key);
    other.evicted = true;
    if (other.users === 0) void other.promise.then(closeRetriever, () => undefined);
  }
  const current = entry;
  const release = (): void => {
    current.users--;
    if (current.evicted && current.users === 0) void current.promise.then(closeRetriever, () => undefined);
  };
  try {
    return { open: await current.promise, release };
  } catch (error) {
    release();
    // A failed load is not kept: the next job of this space tries again.
    if (loaded.get(space) === current) loaded.delete(space);
    throw error;
  }
}

async function load(store: BlobStore, space: string, baseModel: { name: string; files: ModelFiles }, retrieverFiles: Readonly<Record<string, string>>, dir: string): Promise<OpenRetriever> {
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
}

async function closeRetriever(r: OpenRetriever): Promise<void> {
  await r.retriever.dispose();
  await r.text.dispose();
}
