/**
 * `embed`: the adapter's weight sketch (peft-core weightSketch: computed from B·A, so it does not
 * depend on how the factors are parametrised), for similarity search in the registry.
 */
import { weightSketch } from '@palette/peft-core';
import type { EmbedJobResult } from '@palette/job-contracts';
import { throwIfStopped, type JobContext } from '../job-context';
import { loadAdapter, loadModelConfig } from '../job-inputs';

export async function processEmbed(ctx: JobContext<'embed'>): Promise<EmbedJobResult> {
  const { payload } = ctx;
  ctx.progress.update({ phase: 'loading', step: 0, totalSteps: 1 });
  const config = await loadModelConfig(ctx.store, payload.baseConfig);
  const adapter = await loadAdapter(ctx.store, payload.adapter, config);
  throwIfStopped(ctx);
  ctx.progress.update({ phase: 'embedding', step: 0, totalSteps: 1 });
  const vector = weightSketch(adapter.weights, config, payload.dim);
  return { kind: 'embed', method: 'weight-sketch-v1', dim: payload.dim, vector: Array.from(vector) };
}
