/**
 * Real tiny inputs for worker tests, stored in a real directory blob store: a random 2-layer
 * Llama-family model in Hugging Face layout with a byte-level BPE tokenizer trained on world
 * text, and a JSONL dataset of an evaluation-world task.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { generateSplit, getWorldTask, randomCheckpoint, randomModelConfig, saveCheckpoint, taskDatasetJsonl, trainByteLevelBpe } from '@palette/peft-core';
import { DirBlobStore, type BlobStore } from '@palette/object-store';
import type { ModelFiles } from '@palette/job-contracts';
import { uploadFiles } from '../src/blob-files';

export interface WorldFixture {
  readonly store: BlobStore;
  readonly blobDir: string;
  readonly model: ModelFiles;
  readonly datasetSha: string;
  readonly examples: number;
  readonly taskId: string;
}

export async function createWorldFixture(root: string, examples = 48): Promise<WorldFixture> {
  const blobDir = path.join(root, 'blobs');
  const store = new DirBlobStore({ root: blobDir });
  const task = getWorldTask('reverse-word');
  const split = generateSplit(task, { seed: 7, train: examples, eval: 8 });
  const jsonl = taskDatasetJsonl(task, split.train);

  const tokenizerJson = trainByteLevelBpe(jsonl, 259 + 40);
  const vocabSize = Math.max(...Object.values(tokenizerJson.model.vocab), ...tokenizerJson.added_tokens.map((t) => t.id)) + 1;
  const config = randomModelConfig({ vocabSize, maxPositionEmbeddings: 64 });
  const modelDir = await mkdtemp(path.join(tmpdir(), 'palette-model-'));
  await saveCheckpoint(modelDir, config, randomCheckpoint(config, 11), { dtype: 'F32' });
  await writeFile(path.join(modelDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  const stored = await uploadFiles(store, modelDir);
  const model = Object.fromEntries(Object.entries(stored).map(([n, f]) => [n, f.sha256])) as ModelFiles;

  const dataFile = path.join(root, 'data.jsonl');
  await writeFile(dataFile, jsonl);
  const { sha256: datasetSha } = await store.putFile(dataFile);
  return { store, blobDir, model, datasetSha, examples, taskId: task.id };
}
