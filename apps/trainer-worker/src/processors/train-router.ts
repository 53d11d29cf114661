/**
 * `train-router`: trains a learned router (MeteoRA gates, FlyLoRA, X-Cross fusion) over the
 * job's expert adapters with peft-core's trainRouter (the code `npm run eval:routing` measures)
 * and returns it as a "router" artifact (router.json + router.safetensors) for the registry.
 *
 * Checkpoint/resume: none. Router training is short next to a LoRA run (minutes on the evaluation
 * world) and its optimizer state lives inside peft-core's loop; a retried or taken-over job starts
 * over. Cancellation and shutdown stop the loop between two steps.
 */
import * as path from 'node:path';
import { getWorldTask, ROUTER_FORMAT, trainRouter, routerLineBreaks, routerTrainingSteps, worldRouterData, writeRouterArtifact, PeftCoreError, type RouterTrainingData, type TrainingExample } from '@palette/peft-core';
import { trainRouterPayloadIssues, type TrainRouterJobPayload, type TrainRouterJobResult } from '@palette/job-contracts';
import { readBlob, uploadFiles } from '../blob-files';
import { WorkerError } from '../errors';
import { throwIfStopped, type JobContext } from '../job-context';
import { loadAdapter, loadBaseModel, type BaseModel } from '../job-inputs';

export async function processTrainRouter(ctx: JobContext<'train-router'>): Promise<TrainRouterJobResult> {
  const started = performance.now();
  const p = ctx.payload;
  const issues = trainRouterPayloadIssues(p);
  if (issues.length > 0) throw new WorkerError('INPUT_INVALID', `train-router payload: ${issues.join('; ')}`);
  const h = p.hyperparameters;
  const totalSteps = routerTrainingSteps(p.strategy, p.experts.length, h.steps);
  ctx.progress.update({ phase: 'loading', step: 0, totalSteps });
  const base = await loadBaseModel(ctx.store, p.baseModel.files, path.join(ctx.scratchDir, 'base'));
  const experts = [];
  for (const e of p.experts) experts.push({ ref: e.ref, weights: (await loadAdapter(ctx.store, e.files, base.config)).weights });
  const data = await routerData(ctx, p, base);
  throwIfStopped(ctx);

  // One signal for the trainer: cancel or shutdown, whichever comes first.
  const stop = new AbortController();
  const onStop = (): void => stop.abort();
  ctx.cancelSignal.addEventListener('abort', onStop);
  ctx.shutdownSignal.addEventListener('abort', onStop);
  let result;
  try {
    result = await trainRouter({
      strategy: p.strategy,
      config: base.config,
      weights: base.weights,
      tokenizer: base.tokenizer,
      baseModel: p.baseModel.name,
      experts,
      data,
      hyperparameters: h,
      signal: stop.signal,
      onProgress: (e) => ctx.progress.update({ phase: 'training', step: e.step, totalSteps: e.totalSteps, loss: e.loss, learningRate: e.lr, etaSeconds: e.etaSeconds }),
      ...ctx.runtime,
    });
  } catch (error) {
    if (error instanceof PeftCoreError && (error.code === 'INVALID_ARGUMENT' || error.code === 'DATASET_INVALID' || error.code === 'ADAPTER_INCOMPATIBLE')) {
      throw new WorkerError('INPUT_INVALID', error.message);
    }
    throw error;
  } finally {
    ctx.cancelSignal.removeEventListener('abort', onStop);
    ctx.shutdownSignal.removeEventListener('abort', onStop);
  }
  throwIfStopped(ctx);
  if (result.status !== 'completed' || result.artifact === undefined) throw new WorkerError('INPUT_INVALID', 'router training stopped without an artifact');

  ctx.progress.update({ phase: 'uploading', step: totalSteps, totalSteps, loss: result.finalLoss ?? null });
  const dir = path.join(ctx.scratchDir, 'router');
  await writeRouterArtifact(dir, result.artifact);
  const files = await uploadFiles(ctx.store, dir);
  const metrics = {
    strategy: p.strategy,
    steps: result.steps,
    ...(result.finalLoss !== undefined ? { finalLoss: result.finalLoss } : {}),
    trainExamples: result.trainExamples,
    durationSeconds: (performance.now() - started) / 1000,
    ...(result.gateAccuracy !== undefined ? { gateAccuracy: result.gateAccuracy } : {}),
  };
  ctx.log.info(`${p.strategy} router ${p.name} trained: ${result.steps} steps over ${result.trainExamples} examples`, { ...metrics });
  return {
    kind: 'train-router',
    artifact: { kind: 'router', name: p.name, format: ROUTER_FORMAT, metadata: { ...metrics, experts: p.experts.map((e) => e.ref), hyperparameters: { ...h } }, files },
    metrics,
  };
}

/** The per-expert examples the payload names: world tasks, or a labelled JSONL dataset. */
async function routerData(ctx: JobContext<'train-router'>, p: TrainRouterJobPayload, base: BaseModel): Promise<RouterTrainingData> {
  if (p.data.source === 'world') {
    let tasks;
    try {
      tasks = p.data.worldTasks!.map((id) => getWorldTask(id));
    } catch (e) {
      throw new WorkerError('INPUT_INVALID', (e as Error).message);
    }
    return worldRouterData(base.tokenizer, tasks, {
      examplesPerTask: p.data.examplesPerTask,
      compositeExamples: p.data.compositeExamples,
      splitSeed: p.data.splitSeed,
      seed: p.hyperparameters.seed,
      ...(p.hyperparameters.prefixScope === 'line' ? { lineBreaks: routerLineBreaks(base.tokenizer, base.config.vocabSize) } : {}),
    });
  }
  const text = (await readBlob(ctx.store, p.data.sha256!)).toString('utf8');
  return { tasks: parseLabelledJsonl(text, p.experts.map((e) => e.ref)) };
}

/**
 * {"prompt", "completion", "task"} lines; `task` = an expert index (0-based) or the expert's adapter
 * name (with or without @vN). Every expert needs at least one example.
 */
export function parseLabelledJsonl(text: string, expertRefs: readonly string[]): TrainingExample[][] {
  const tasks: TrainingExample[][] = expertRefs.map(() => []);
  const byName = new Map<string, number>();
  expertRefs.forEach((ref, i) => {
    byName.set(ref, i);
    byName.set(ref.slice(0, ref.lastIndexOf('@')), i);
  });
  text.split('\n').forEach((line, n) => {
    if (line.trim() === '') return;
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      throw new WorkerError('INPUT_INVALID', `router dataset line ${n + 1}: not JSON`);
    }
    const r = record as { prompt?: unknown; completion?: unknown; task?: unknown };
    if (typeof r.prompt !== 'string' || typeof r.completion !== 'string') throw new WorkerError('INPUT_INVALID', `router dataset line ${n + 1}: expected string "prompt" and "completion"`);
    const index = typeof r.task === 'number' ? r.task : typeof r.task === 'string' ? byName.get(r.task) : undefined;
    if (index === undefined || !Number.isInteger(index) || index < 0 || index >= expertRefs.length) {
      throw new WorkerError('INPUT_INVALID', `router dataset line ${n + 1}: "task" must be an expert index in [0, ${expertRefs.length}) or one of ${expertRefs.join(', ')}, got ${JSON.stringify(r.task ?? null)}`);
    }
    tasks[index]!.push({ prompt: r.prompt, completion: r.completion });
  });
  const empty = tasks.findIndex((t) => t.length === 0);
  if (empty >= 0) throw new WorkerError('INPUT_INVALID', `router dataset: no examples for expert ${expertRefs[empty]}`);
  return tasks;
}
