/**
 * Hugging Face checkpoint directories for Llama-family models: config.json plus either
 * model.safetensors or shards model-0000K-of-0000N.safetensors with
 * model.safetensors.index.json. Weights are validated by name and shape against the config
 * and converted to float32 on load.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PeftCoreError } from '../errors';
import type { HostTensor } from '../tensor/host-tensor';
import { encodeFromFloat32, dtypeSize, type FloatDtype } from './dtype';
import { expectedWeightShapes, modelConfigToJson, parseModelConfig } from './hf-config';
import type { ModelConfig } from './model-config';
import { SafetensorsFile, writeSafetensorsFile, type TensorSource } from './safetensors';

export const CONFIG_FILE = 'config.json';
export const SINGLE_WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';

export interface Checkpoint {
  readonly config: ModelConfig;
  readonly weights: Map<string, HostTensor>;
}

function invalid(message: string): PeftCoreError {
  return new PeftCoreError('CHECKPOINT_INVALID', message);
}

async function exists(file: string): Promise<boolean> {
  try {
    await fsp.access(file);
    return true;
  } catch {
    return false;
  }
}

async function readJson(file: string, code: 'CHECKPOINT_INVALID' | 'MODEL_CONFIG_INVALID'): Promise<unknown> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (e) {
    throw new PeftCoreError(code, `cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new PeftCoreError(code, `${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** Weight files of a checkpoint directory, with the tensor names each one must hold. */
async function weightFiles(dir: string): Promise<Map<string, string[] | undefined>> {
  const indexPath = path.join(dir, WEIGHTS_INDEX_FILE);
  if (await exists(indexPath)) {
    const index = await readJson(indexPath, 'CHECKPOINT_INVALID');
    const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw invalid(`${indexPath}: "weight_map" must be an object of tensor name -> file`);
    }
    const files = new Map<string, string[]>();
    for (const [name, file] of Object.entries(weightMap)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || !file.endsWith('.safetensors')) {
        throw invalid(`${indexPath}: tensor "${name}" maps to ${JSON.stringify(file)}, not a .safetensors file in the directory`);
      }
      files.set(file, [...(files.get(file) ?? []), name]);
    }
    return files;
  }
  if (await exists(path.join(dir, SINGLE_WEIGHTS_FILE))) return new Map([[SINGLE_WEIGHTS_FILE, undefined]]);
  throw invalid(`${dir}: neither ${SINGLE_WEIGHTS_FILE} nor ${WEIGHTS_INDEX_FILE} found`);
}

/**
 * Names that some exporters write but the model does not use: rotary inverse frequencies
 * (recomputed from rope_theta) and an lm_head copy of tied embeddings.
 */
function isIgnorableExtra(name: string, config: ModelConfig): boolean {
  return name.endsWith('.rotary_emb.inv_freq') || (config.tieWordEmbeddings && name === 'lm_head.weight');
}

export async function loadModelConfig(dir: string): Promise<ModelConfig> {
  return parseModelConfig(await readJson(path.join(dir, CONFIG_FILE), 'MODEL_CONFIG_INVALID'));
}

/** Loads config.json and every weight (as float32), checking names and shapes against the config. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const config = await loadModelConfig(dir);
  const expected = expectedWeightShapes(config);
  const weights = new Map<string, HostTensor>();
  for (const [file, indexedNames] of await weightFiles(dir)) {
    const st = await SafetensorsFile.open(path.join(dir, file));
    try {
      const names = st.tensorNames;
      if (indexedNames) {
        const present = new Set(names);
        const absent = indexedNames.filter((n) => !present.has(n));
        if (absent.length > 0) throw invalid(`${file}: the index lists ${absent.slice(0, 3).join(', ')} but the shard does not hold them`);
      }
      for (const name of names) {
        const shape = expected.get(name);
        if (shape === undefined) {
          if (isIgnorableExtra(name, config)) continue;
          throw invalid(`${file}: unexpected tensor "${name}" for a ${config.family} model with ${config.numLayers} layers`);
        }
        if (weights.has(name)) throw invalid(`${file}: tensor "${name}" appears in more than one shard`);
        const info = st.info(name);
        if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
          throw invalid(`${file}: tensor "${name}" has shape [${info.shape.join(', ')}], config expects [${shape.join(', ')}]`);
        }
        if (info.dtype !== 'F32' && info.dtype !== 'F16' && info.dtype !== 'BF16' && info.dtype !== 'F64') {
          throw invalid(`${file}: tensor "${name}" has dtype ${info.dtype}, expected a float type`);
        }
        weights.set(name, await st.readTensor(name));
      }
    } finally {
      await st.close();
    }
  }
  const missing = [...expected.keys()].filter((n) => !weights.has(n));
  if (missing.length > 0) {
    throw invalid(`${dir}: ${missing.length} weight(s) missing, e.g. ${missing.slice(0, 3).join(', ')}`);
  }
  // Return in model order, independent of shard layout.
  return { config, weights: new Map([...expected.keys()].map((n) => [n, weights.get(n) as HostTensor])) };
}

export interface SaveCheckpointOptions {
  /** Storage dtype of the weights; config.json's torch_dtype is set to match. */
  readonly dtype: FloatDtype;
  /** Shard so that no file's tensor data exceeds this many bytes (a bigger single tensor gets its own shard). */
  readonly shardBytes?: number;
}

const TORCH_DTYPES: Record<FloatDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16', F64: 'float64' };

/** The shard file name Hugging Face uses: model-00001-of-00003.safetensors. */
export function shardFileName(index: number, count: number): string {
  return `model-${String(index + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`;
}

/**
 * Writes config.json and the weights in HF layout. Each tensor is encoded only when it is
 * written, so peak memory stays near one tensor beyond the weights themselves.
 */
export async function saveCheckpoint(
  dir: string,
  config: ModelConfig,
  weights: ReadonlyMap<string, HostTensor>,
  options: SaveCheckpointOptions,
): Promise<void> {
  const expected = expectedWeightShapes(config);
  for (const [name, shape] of expected) {
    const t = weights.get(name);
    if (!t) throw invalid(`cannot save: weight "${name}" is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw invalid(`cannot save: weight "${name}" has shape [${t.shape.join(', ')}], config expects [${shape.join(', ')}]`);
    }
  }
  for (const name of weights.keys()) {
    if (!expected.has(name)) throw invalid(`cannot save: unexpected weight "${name}"`);
  }
  await fsp.mkdir(dir, { recursive: true });
  const savedConfig: ModelConfig = { ...config, torchDtype: TORCH_DTYPES[options.dtype] };
  await fsp.writeFile(path.join(dir, CONFIG_FILE), JSON.stringify(modelConfigToJson(savedConfig), null, 2) + '\n');

  const sources: TensorSource[] = [...expected.keys()].map((name) => {
    const t = weights.get(name) as HostTensor;
    return { name, dtype: options.dtype, shape: t.shape, data: () => encodeFromFloat32(options.dtype, t.data) };
  });
  const metadata = { format: 'pt' };
  if (options.shardBytes === undefined) {
    await writeSafetensorsFile(path.join(dir, SINGLE_WEIGHTS_FILE), sources, metadata);
    // An index left from an earlier sharded save would take precedence on load.
    await fsp.rm(path.join(dir, WEIGHTS_INDEX_FILE), { force: true });
    return;
  }
  if (!(options.shardBytes > 0)) throw invalid(`shardBytes must be positive, got ${options.shardBytes}`);

  // Greedy in model order, as transformers' shard_checkpoint does.
  const shards: TensorSource[][] = [[]];
  let current = 0;
  let totalSize = 0;
  for (const source of sources) {
    const bytes = source.shape.reduce((a, b) => a * b, 1) * dtypeSize(options.dtype);
    totalSize += bytes;
    if (current > 0 && current + bytes > options.shardBytes) {
      shards.push([]);
      current = 0;
    }
    shards[shards.length - 1].push(source);
    current += bytes;
  }
  const weightMap: Record<string, string> = {};
  for (let i = 0; i < shards.length; i++) {
    const file = shardFileName(i, shards.length);
    await writeSafetensorsFile(path.join(dir, file), shards[i], metadata);
    for (const s of shards[i]) weightMap[s.name] = file;
  }
  const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
  await fsp.writeFile(path.join(dir, WEIGHTS_INDEX_FILE), JSON.stringify(index, null, 2) + '\n');
  // A stale single-file checkpoint would shadow nothing (the index wins) but would mislead.
  await fsp.rm(path.join(dir, SINGLE_WEIGHTS_FILE), { force: true });
}
