/**
 * `train-retriever`: trains an AutoLoRA retriever (peft-core trainRetriever: weight encoder +
 * text projection, symmetric InfoNCE) on the job's adapter versions that have captions, then
 * embeds EVERY listed version of the base with it (weight vector, and the normalised mean of its
 * captions' text vectors) and returns the artifact plus one blob of vectors. The registry
 * registers the artifact, installs its space with those vectors and activates it in one step
 * (train-retriever.kind.ts), so a space is never active half-embedded.
 *
 * Checkpoint/resume: none. A retriever trains in seconds to minutes (it never runs the base
 * model per step: caption features are computed once); a retried job starts over and, with the
 * same seed, produces the same artifact and space id. Cancellation stops between two steps.
 */
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  DEFAULT_LEXICAL_CONFIG,
  PeftCoreError,
  RETRIEVER_FORMAT,
  Retriever,
  encoderLayoutFor,
  trainRetriever,
  writeRetrieverArtifact,
  type LoraWeights,
} from '@palette/peft-core';
import { trainRetrieverPayloadIssues, type TrainRetrieverJobResult } from '@palette/job-contracts';
import { uploadFiles } from '../blob-files';
import { WorkerError } from '../errors';
import { throwIfStopped, type JobContext } from '../job-context';
import { loadAdapter, loadBaseModel } from '../job-inputs';
import { baseTextEncoder } from './embed-retriever';

/** Versions embedded per weight-encoder call. */
const EMBED_BATCH = 16;

export async function processTrainRetriever(ctx: JobContext<'train-retriever'>): Promise<TrainRetrieverJobResult> {
  const started = performance.now();
  const p = ctx.payload;
  const o = p.options;
  const issues = trainRetrieverPayloadIssues(p);
  if (issues.length > 0) throw new WorkerError('INPUT_INVALID', `train-retriever payload: ${issues.join('; ')}`);
  const total = p.versions.length;
  ctx.progress.update({ phase: 'loading', step: 0, totalSteps: o.steps });
  const base = await loadBaseModel(ctx.store, p.baseModel.files, path.join(ctx.scratchDir, 'base'));
  const text = await baseTextEncoder(base, p.baseModel.name, p.baseModel.files);
  try {
    const adapterOf = async (v: (typeof p.versions)[number]): Promise<LoraWeights> => {
      try {
        return (await loadAdapter(ctx.store, v.files, base.config)).weights;
      } catch (error) {
        if (error instanceof PeftCoreError) throw new WorkerError('INPUT_INVALID', `adapter ${v.ref}: ${error.message}`);
        throw error;
      }
    };
    const training = p.versions.filter((v) => v.captions.length > 0);
    const trainingWeights = new Map<string, LoraWeights>();
    for (const v of training) trainingWeights.set(v.id, await adapterOf(v));
    throwIfStopped(ctx);

    // One signal for the trainer: cancel or shutdown, whichever comes first.
    const stop = new AbortController();
    const onStop = (): void => stop.abort();
    ctx.cancelSignal.addEventListener('abort', onStop);
    ctx.shutdownSignal.addEventListener('abort', onStop);
    let artifact;
    try {
      artifact = await trainRetriever({
        adapters: training.map((v) => ({ id: v.id, weights: trainingWeights.get(v.id)!, descriptions: v.captions.slice(0, o.captionsPerAdapter) })),
        layout: encoderLayoutFor(base.config),
        textEncoder: text,
        options: {
          steps: o.steps,
          batchSize: o.batchSize,
          lr: o.lr,
          temperature: o.temperature,
          seed: o.seed,
          ...(o.textFeatures === 'base+lexical' ? { lexical: { ...DEFAULT_LEXICAL_CONFIG, buckets: o.lexicalBuckets } } : {}),
        },
        signal: stop.signal,
        onProgress: (e) => ctx.progress.update({ phase: 'training', step: e.step, totalSteps: e.totalSteps, loss: e.loss, learningRate: e.lr, etaSeconds: ((e.totalSteps - e.step) * e.elapsedMs) / e.step / 1000 }),
      });
    } catch (error) {
      throwIfStopped(ctx);
      if (error instanceof PeftCoreError && (error.code === 'INVALID_ARGUMENT' || error.code === 'ADAPTER_INCOMPATIBLE')) throw new WorkerError('INPUT_INVALID', error.message);
      throw error;
    } finally {
      ctx.cancelSignal.removeEventListener('abort', onStop);
      ctx.shutdownSignal.removeEventListener('abort', onStop);
    }
    throwIfStopped(ctx);

    // Every version of the base into the new space, in payload order.
    const retriever = await Retriever.create(artifact, text);
    const dim = artifact.manifest.weightEncoder.outDim;
    const rows = new Float32Array(total * 2 * dim);
    const hasText: boolean[] = [];
    try {
      for (let i = 0; i < total; i += EMBED_BATCH) {
        throwIfStopped(ctx);
        const batch = p.versions.slice(i, i + EMBED_BATCH);
        const weights = [];
        for (const v of batch) weights.push(trainingWeights.get(v.id) ?? (await adapterOf(v)));
        let zWeights: Float32Array[];
        try {
          zWeights = await retriever.embedAdapters(weights);
        } catch (error) {
          if (error instanceof PeftCoreError) throw new WorkerError('INPUT_INVALID', `embedding ${batch.map((v) => v.ref).join(', ')}: ${error.message}`);
          throw error;
        }
        for (const [j, v] of batch.entries()) {
          const row = (i + j) * 2 * dim;
          rows.set(zWeights[j]!, row);
          const zText = await retriever.embedCaptions(v.captions.slice(0, o.captionsPerAdapter));
          if (zText) rows.set(zText, row + dim);
          hasText.push(zText !== null);
        }
        ctx.progress.update({ phase: 'embedding', step: Math.min(i + EMBED_BATCH, total), totalSteps: total });
      }
    } finally {
      await retriever.dispose();
    }

    ctx.progress.update({ phase: 'uploading', step: total, totalSteps: total });
    const dir = path.join(ctx.scratchDir, 'retriever');
    await writeRetrieverArtifact(dir, artifact);
    const files = await uploadFiles(ctx.store, dir);
    const vectorsPath = path.join(ctx.scratchDir, 'embeddings.f32');
    await writeFile(vectorsPath, new Uint8Array(rows.buffer, rows.byteOffset, rows.byteLength));
    const stored = await ctx.store.putFile(vectorsPath);
    const t = artifact.manifest.training;
    const metrics = { steps: t.steps, finalLoss: t.finalLoss, adapters: t.adapters, captions: t.captions, embedded: total, durationSeconds: (performance.now() - started) / 1000 };
    ctx.log.info(`retriever ${p.name} (${artifact.manifest.space}) trained on ${t.adapters} adapters / ${t.captions} captions, ${total} versions embedded`, { ...metrics });
    return {
      kind: 'train-retriever',
      artifact: { kind: 'retriever', name: p.name, format: RETRIEVER_FORMAT, metadata: { ...metrics, space: artifact.manifest.space, options: { ...o } }, files },
      space: artifact.manifest.space,
      embeddings: { file: { sha256: stored.sha256, size: stored.size }, dim, versions: p.versions.map((v) => v.id), text: hasText },
      metrics,
    };
  } finally {
    await text.dispose();
  }
}
