/**
 * `embed`: one adapter version into one embedding space (enqueued by the registry after the
 * version is registered, one job per (version, space)). The weight vector comes from the space's
 * retriever (AutoLoRA weight encoder over B·A, so it does not depend on how the factors are
 * parametrised); the text vector is the normalised mean of the version's captions through the
 * retriever's text side. The registry writes both into the space (embed.kind.ts).
 */
import * as path from 'node:path';
import { PeftCoreError } from '@palette/peft-core';
import type { EmbedJobResult } from '@palette/job-contracts';
import { WorkerError } from '../errors';
import { throwIfStopped, type JobContext } from '../job-context';
import { loadAdapter } from '../job-inputs';
import { leaseSpaceRetriever, type OpenRetriever } from './embed-retriever';

export async function processEmbed(ctx: JobContext<'embed'>): Promise<EmbedJobResult> {
  const p = ctx.payload;
  ctx.progress.update({ phase: 'loading', step: 0, totalSteps: 1 });
  // The cache outlives this attempt's scratch dir, so the retriever's files get their own directory.
  const lease = await leaseSpaceRetriever(ctx.store, p.space, p.baseModel, p.retriever, path.join(path.dirname(ctx.scratchDir), `retriever-${p.space}-${ctx.jobId}`));
  try {
    return await embedWith(ctx, lease.open);
  } finally {
    lease.release();
  }
}

async function embedWith(ctx: JobContext<'embed'>, open: OpenRetriever): Promise<EmbedJobResult> {
  const p = ctx.payload;
  let adapter;
  try {
    adapter = await loadAdapter(ctx.store, p.adapter, open.base.config);
  } catch (error) {
    if (error instanceof PeftCoreError) throw new WorkerError('INPUT_INVALID', `adapter version ${p.adapterVersionId}: ${error.message}`);
    throw error;
  }
  throwIfStopped(ctx);
  ctx.progress.update({ phase: 'embedding', step: 0, totalSteps: 1 });
  let weight: Float32Array;
  try {
    [weight] = (await open.retriever.embedAdapters([adapter.weights])) as [Float32Array];
  } catch (error) {
    // ADAPTER_INCOMPATIBLE: a module the retriever's layout does not have; the version stays out of the space.
    if (error instanceof PeftCoreError) throw new WorkerError('INPUT_INVALID', `adapter version ${p.adapterVersionId}: ${error.message}`);
    throw error;
  }
  const text = await open.retriever.embedCaptions(p.captions);
  ctx.progress.update({ phase: 'embedding', step: 1, totalSteps: 1 });
  return { kind: 'embed', adapterVersionId: p.adapterVersionId, space: p.space, dim: weight.length, weight: Array.from(weight), text: text ? Array.from(text) : null };
}
