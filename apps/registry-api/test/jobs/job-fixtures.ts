/**
 * Real tiny inputs for the job tests: a random 2-layer Llama-family base in Hugging Face layout
 * with a byte-level BPE tokenizer trained on world text (context 64 tokens), and a JSONL dataset
 * of an evaluation-world task. Built by peft-core itself, as the platform's own demo data is.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateSplit, getWorldTask, randomCheckpoint, randomModelConfig, saveCheckpoint, taskDatasetJsonl, trainByteLevelBpe } from '@palette/peft-core';

export interface JobFixture {
  /** Base model files by name (config.json, model.safetensors, tokenizer.json). */
  readonly modelFiles: Map<string, Buffer>;
  readonly datasetJsonl: string;
  readonly examples: number;
  readonly contextTokens: number;
}

export const CONTEXT_TOKENS = 64;

export async function buildJobFixture(examples = 48): Promise<JobFixture> {
  const task = getWorldTask('reverse-word');
  const split = generateSplit(task, { seed: 7, train: examples, eval: 8 });
  const jsonl = taskDatasetJsonl(task, split.train);
  const tokenizerJson = trainByteLevelBpe(jsonl, 259 + 40);
  const vocabSize = Math.max(...Object.values(tokenizerJson.model.vocab), ...tokenizerJson.added_tokens.map((t) => t.id)) + 1;
  const config = randomModelConfig({ vocabSize, maxPositionEmbeddings: CONTEXT_TOKENS });
  const dir = await mkdtemp(path.join(tmpdir(), 'palette-job-model-'));
  try {
    await saveCheckpoint(dir, config, randomCheckpoint(config, 11), { dtype: 'F32' });
    const modelFiles = new Map<string, Buffer>();
    for (const name of await readdir(dir)) modelFiles.set(name, await readFile(path.join(dir, name)));
    modelFiles.set('tokenizer.json', Buffer.from(JSON.stringify(tokenizerJson)));
    return { modelFiles, datasetJsonl: jsonl, examples, contextTokens: CONTEXT_TOKENS };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
