/**
 * Loading what a job names from the object store: a Hugging Face base model (config, weights,
 * tokenizer), a JSONL dataset turned into training examples, a PEFT adapter.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import {
  Tokenizer,
  loadCheckpoint,
  parseJsonlDataset,
  parseModelConfig,
  readPeftAdapter,
  renderExample,
  splitByHash,
  chatFormatterOf,
  type ModelConfig,
  type HostTensor,
  type PeftAdapter,
  type TokenizerConfigJson,
  type TrainingExample,
} from '@palette/peft-core';
import { MODEL_CONFIG_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, type AdapterFiles, type ModelFiles } from '@palette/job-contracts';
import type { BlobStore } from '@palette/object-store';
import { downloadFiles, readBlob } from './blob-files';
import { WorkerError } from './errors';

export interface BaseModel {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly tokenizer: Tokenizer;
  /** The materialised model directory (config, weights, tokenizer files). */
  readonly dir: string;
}

/** Downloads the model's files into `dir` and loads them. */
export async function loadBaseModel(store: BlobStore, files: ModelFiles, dir: string): Promise<BaseModel> {
  await downloadFiles(store, files, dir);
  const { config, weights } = await loadCheckpoint(dir);
  const tokenizer = await loadTokenizer(dir);
  if (tokenizer.bosTokenId !== undefined && tokenizer.bosTokenId >= config.vocabSize) {
    throw new WorkerError('INPUT_INVALID', `the tokenizer's BOS id ${tokenizer.bosTokenId} is outside the model's vocabulary of ${config.vocabSize}`);
  }
  return { config, weights, tokenizer, dir };
}

async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const json: unknown = JSON.parse(await fsp.readFile(path.join(dir, TOKENIZER_FILE), 'utf8'));
  const configPath = path.join(dir, TOKENIZER_CONFIG_FILE);
  const hasConfig = await fsp.stat(configPath).then(() => true, () => false);
  const config = hasConfig ? (JSON.parse(await fsp.readFile(configPath, 'utf8')) as TokenizerConfigJson) : undefined;
  return Tokenizer.fromJson(json, config);
}

export interface TrainingData {
  readonly train: TrainingExample[];
  readonly eval: TrainingExample[];
}

/**
 * A JSONL dataset blob as training examples, split train/eval by a hash of each example (stable
 * under reordering, so a resumed run sees exactly the same split). Text records train on every
 * token; prompt/completion and chat records on the completion only.
 */
export async function loadTrainingData(store: BlobStore, sha256: string, evalFraction: number, tokenizer: Tokenizer): Promise<TrainingData> {
  const dataset = await parseJsonlDataset(await readBlob(store, sha256));
  const split = evalFraction > 0 ? splitByHash(dataset.examples, { evalFraction }) : { train: [...dataset.examples], eval: [] };
  const formatChat = dataset.format === 'chat' ? chatFormatterOf(tokenizer) : undefined;
  const toTraining = (e: (typeof dataset.examples)[number]): TrainingExample => {
    const r = renderExample(e, formatChat);
    return r.prompt === '' ? { text: r.completion } : { prompt: r.prompt, completion: r.completion };
  };
  if (split.train.length === 0) throw new WorkerError('INPUT_INVALID', `dataset ${sha256}: no training examples left after holding out ${evalFraction} for eval`);
  return { train: split.train.map(toTraining), eval: split.eval.map(toTraining) };
}

export async function loadModelConfig(store: BlobStore, sha256: string): Promise<ModelConfig> {
  return parseModelConfig(JSON.parse((await readBlob(store, sha256)).toString('utf8')));
}

export async function loadAdapter(store: BlobStore, files: AdapterFiles, base: ModelConfig): Promise<PeftAdapter> {
  const configJson = await readBlob(store, files[ADAPTER_CONFIG_FILE]);
  const weights = await readBlob(store, files[ADAPTER_WEIGHTS_FILE]);
  return readPeftAdapter({ configJson: new Uint8Array(configJson), safetensors: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength) }, base);
}

/** The model file names a trained base is published with, besides its weights. */
export const TOKENIZER_FILES = [TOKENIZER_FILE, TOKENIZER_CONFIG_FILE] as const;
export { MODEL_CONFIG_FILE };
