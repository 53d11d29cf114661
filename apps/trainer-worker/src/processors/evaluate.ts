/**
 * `evaluate`: exact-match accuracy of a base model, with or without an adapter, on an
 * evaluation-world task's eval split (greedy decoding; the answer ends at EOS or a newline).
 */
import * as path from 'node:path';
import { LlamaModel, encodePrompt, generateSplit, getWorldTask, type LoraWeights } from '@palette/peft-core';
import type { EvaluateJobResult, EvaluationSample } from '@palette/job-contracts';
import { WorkerError } from '../errors';
import { throwIfStopped, type JobContext } from '../job-context';
import { loadAdapter, loadBaseModel } from '../job-inputs';

/** Samples kept in the result for a human to read. */
const SAMPLES_KEPT = 5;

export async function processEvaluate(ctx: JobContext<'evaluate'>): Promise<EvaluateJobResult> {
  const { payload } = ctx;
  const total = payload.task.examples;
  ctx.progress.update({ phase: 'loading', step: 0, totalSteps: total });
  let task;
  try {
    task = getWorldTask(payload.task.worldTask);
  } catch (e) {
    throw new WorkerError('INPUT_INVALID', (e as Error).message);
  }
  const examples = generateSplit(task, { seed: payload.task.seed, train: 0, eval: total }).eval;
  const base = await loadBaseModel(ctx.store, payload.baseModel.files, path.join(ctx.scratchDir, 'base'));
  const lora: LoraWeights | undefined = payload.adapter !== undefined ? (await loadAdapter(ctx.store, payload.adapter, base.config)).weights : undefined;
  throwIfStopped(ctx);

  const model = LlamaModel.create(base, ctx.runtime);
  const { tokenizer } = base;
  const stopTokenIds = tokenizer.eosTokenId !== undefined ? [tokenizer.eosTokenId] : [];
  const samples: EvaluationSample[] = [];
  let correct = 0;
  try {
    for (let i = 0; i < examples.length; i += payload.batchSize) {
      throwIfStopped(ctx);
      const batch = examples.slice(i, i + payload.batchSize);
      const prompts = batch.map((e) => task.prompt(e.input));
      const outputs = await model.generate(
        prompts.map((p) => encodePrompt(tokenizer, p)),
        {
          maxNewTokens: payload.maxNewTokens,
          temperature: 0,
          stopTokenIds,
          // Single-task answers never contain a newline, so one ends the answer.
          shouldStop: (_row, generated) => tokenizer.decode(generated, { skipSpecialTokens: true }).includes('\n'),
          ...(lora !== undefined ? { lora } : {}),
        },
      );
      outputs.forEach((out, k) => {
        const text = tokenizer.decode(out.tokens, { skipSpecialTokens: true }).split('\n')[0]!;
        const ok = task.score(text, batch[k]!.answer);
        if (ok) correct++;
        if (samples.length < SAMPLES_KEPT) samples.push({ prompt: prompts[k]!, output: text, answer: batch[k]!.answer, correct: ok });
      });
      ctx.progress.update({ phase: 'evaluating', step: Math.min(i + batch.length, total), totalSteps: total });
    }
  } finally {
    await model.dispose();
  }
  ctx.log.info(`${task.id}: ${correct}/${total} exact matches`, { correct, total });
  return { kind: 'evaluate', metrics: { task: task.id, examples: total, correct, accuracy: correct / total }, samples };
}
