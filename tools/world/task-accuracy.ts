/**
 * Exact-match accuracy of a model, with or without an adapter, on a task's held-out examples:
 * greedy decoding from `Q: <marker> <input>\nA:`, the answer ending at EOS or a newline
 * (single-task answers never contain one), the same rule as the trainer-worker's evaluate job.
 */
import { encodePrompt, type LlamaModel, type LoraWeights, type TaskExample, type Tokenizer, type WorldTask } from '@palette/peft-core';

export interface TaskAccuracy {
  readonly correct: number;
  readonly total: number;
  readonly accuracy: number;
  /** The first few (prompt input, output, answer) triples, for a human to read. */
  readonly samples: readonly { readonly input: string; readonly output: string; readonly answer: string }[];
}

export interface TaskAccuracyOptions {
  readonly maxNewTokens: number;
  readonly batchSize: number;
  readonly lora?: LoraWeights;
  readonly samplesKept?: number;
}

export async function taskAccuracy(
  model: LlamaModel,
  tokenizer: Tokenizer,
  task: WorldTask,
  examples: readonly TaskExample[],
  options: TaskAccuracyOptions,
): Promise<TaskAccuracy> {
  const stopTokenIds = tokenizer.eosTokenId !== undefined ? [tokenizer.eosTokenId] : [];
  const samplesKept = options.samplesKept ?? 3;
  const samples: { input: string; output: string; answer: string }[] = [];
  let correct = 0;
  for (let i = 0; i < examples.length; i += options.batchSize) {
    const batch = examples.slice(i, i + options.batchSize);
    const outputs = await model.generate(
      batch.map((e) => encodePrompt(tokenizer, task.prompt(e.input))),
      {
        maxNewTokens: options.maxNewTokens,
        temperature: 0,
        stopTokenIds,
        shouldStop: (_row, generated) => tokenizer.decode(generated, { skipSpecialTokens: true }).includes('\n'),
        ...(options.lora !== undefined ? { lora: options.lora } : {}),
      },
    );
    outputs.forEach((out, k) => {
      const example = batch[k]!;
      const output = tokenizer.decode(out.tokens, { skipSpecialTokens: true }).split('\n')[0]!;
      if (task.score(output, example.answer)) correct++;
      if (samples.length < samplesKept) samples.push({ input: example.input, output: output.trim(), answer: example.answer });
    });
  }
  return { correct, total: examples.length, accuracy: examples.length > 0 ? correct / examples.length : 0, samples };
}
