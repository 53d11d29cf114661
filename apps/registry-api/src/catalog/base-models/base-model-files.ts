import { catalogErrors } from '../catalog-errors';
import {
  baseWeightShapes,
  parseBaseModelConfig,
  readJsonFile,
  readSafetensorsHeader,
  summariseArchitecture,
  type ArchitectureSummary,
  type ModelConfig,
} from '../peft/peft-formats';

/** A file of a base model upload or import, on local disk. */
export interface LocalModelFile {
  readonly path: string;
  readonly size: number;
}

const SINGLE_WEIGHTS = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';
const SHARD_PATTERN = /^model-(\d{5})-of-(\d{5})\.safetensors$/;
/** Files of a Hugging Face model folder the registry keeps besides the weights. */
const JSON_SIDE_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];
/** Tensors some exporters write that are derived buffers, not weights. */
const IGNORABLE_TENSOR = /\.rotary_emb\.inv_freq$/;

/** Whether `name` may be part of a base model; used by the upload policy before any bytes arrive. */
export function isBaseModelFileName(name: string): boolean {
  return name === SINGLE_WEIGHTS || name === INDEX_FILE || SHARD_PATTERN.test(name) || JSON_SIDE_FILES.includes(name) || name === 'README.md';
}

export function isConfigLikeFile(name: string): boolean {
  return name === 'config.json' || name === INDEX_FILE || name === 'generation_config.json' || name === 'special_tokens_map.json';
}

/** What validation learnt about a base model, ready to be stored. */
export interface ValidatedBaseModel {
  readonly config: ModelConfig;
  readonly configJson: Record<string, unknown>;
  readonly summary: BaseModelSummary;
}

export interface BaseModelSummary extends ArchitectureSummary, Record<string, unknown> {
  /** Counted from the checkpoint's tensors, so it is what is actually stored. */
  readonly parameters: number;
  /** The dtype of most weights in the checkpoint (e.g. 'F32', 'BF16'). */
  readonly dtype: string;
  readonly files: number;
  readonly totalBytes: number;
}

/**
 * Validates a Hugging Face-layout model folder: config.json parses as a supported architecture,
 * tokenizer.json is JSON, the weights are one model.safetensors or shards listed by an index whose
 * weight map matches the shards exactly, and every expected weight is present once with its
 * expected shape (nothing missing, nothing unknown). Only safetensors headers are read.
 */
export async function validateBaseModelFiles(files: ReadonlyMap<string, LocalModelFile>): Promise<ValidatedBaseModel> {
  for (const name of files.keys()) {
    if (!isBaseModelFileName(name)) throw catalogErrors.invalid(`unexpected base model file '${name}'`, { file: name });
  }
  const configFile = files.get('config.json');
  if (!configFile) throw catalogErrors.invalid('base model is missing config.json');
  const tokenizerFile = files.get('tokenizer.json');
  if (!tokenizerFile) throw catalogErrors.invalid('base model is missing tokenizer.json');

  const configJson = await readJsonFile(configFile.path, 'config.json');
  if (typeof configJson !== 'object' || configJson === null || Array.isArray(configJson)) {
    throw catalogErrors.invalid('config.json must be a JSON object');
  }
  const config = parseBaseModelConfig(configJson);
  for (const name of JSON_SIDE_FILES) {
    const f = files.get(name);
    if (f && name !== 'config.json') await readJsonFile(f.path, name);
  }

  const shardNames = await weightFileNames(files);
  const found = new Map<string, { shape: readonly number[]; dtype: string; file: string }>();
  for (const shard of shardNames) {
    const header = await readSafetensorsHeader(files.get(shard)!.path, shard);
    for (const [name, info] of header.tensors) {
      if (IGNORABLE_TENSOR.test(name)) continue;
      const previous = found.get(name);
      if (previous) throw catalogErrors.invalid(`tensor '${name}' appears in both ${previous.file} and ${shard}`, { tensor: name });
      found.set(name, { shape: info.shape, dtype: info.dtype, file: shard });
    }
  }
  await checkIndexMatches(files, found);

  const expected = baseWeightShapes(config);
  for (const [name, shape] of expected) {
    const got = found.get(name);
    if (!got) throw catalogErrors.invalid(`checkpoint is missing tensor '${name}'`, { tensor: name });
    if (got.shape.length !== shape.length || got.shape.some((d, i) => d !== shape[i])) {
      throw catalogErrors.invalid(`tensor '${name}' has shape [${got.shape.join(', ')}], expected [${shape.join(', ')}]`, {
        tensor: name,
      });
    }
  }
  for (const name of found.keys()) {
    if (!expected.has(name)) throw catalogErrors.invalid(`checkpoint has unexpected tensor '${name}'`, { tensor: name });
  }

  const arch = summariseArchitecture(config);
  const dtypeCounts = new Map<string, number>();
  let parameters = 0;
  for (const t of found.values()) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    parameters += n;
    dtypeCounts.set(t.dtype, (dtypeCounts.get(t.dtype) ?? 0) + n);
  }
  const dtype = [...dtypeCounts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'unknown';
  let totalBytes = 0;
  for (const f of files.values()) totalBytes += f.size;
  return {
    config,
    configJson: configJson as Record<string, unknown>,
    summary: {
      family: arch.family,
      layers: arch.layers,
      hiddenSize: arch.hiddenSize,
      intermediateSize: arch.intermediateSize,
      heads: arch.heads,
      kvHeads: arch.kvHeads,
      headDim: arch.headDim,
      vocabSize: arch.vocabSize,
      parameters,
      dtype,
      tiedEmbeddings: arch.tiedEmbeddings,
      contextLength: arch.contextLength,
      files: files.size,
      totalBytes,
    },
  };
}

async function weightFileNames(files: ReadonlyMap<string, LocalModelFile>): Promise<string[]> {
  const shards = [...files.keys()].filter((n) => SHARD_PATTERN.test(n)).sort();
  const single = files.has(SINGLE_WEIGHTS);
  if (single && shards.length > 0) throw catalogErrors.invalid('base model has both model.safetensors and sharded weights');
  if (single) {
    if (files.has(INDEX_FILE)) throw catalogErrors.invalid(`${INDEX_FILE} given without shard files`);
    return [SINGLE_WEIGHTS];
  }
  if (shards.length === 0) throw catalogErrors.invalid('base model has no weights (model.safetensors or model-0000N-of-0000M.safetensors)');
  if (!files.has(INDEX_FILE)) throw catalogErrors.invalid(`sharded weights need ${INDEX_FILE}`);
  const total = Number(SHARD_PATTERN.exec(shards[0])![2]);
  for (let i = 1; i <= total; i++) {
    const name = `model-${String(i).padStart(5, '0')}-of-${String(total).padStart(5, '0')}.safetensors`;
    if (!files.has(name)) throw catalogErrors.invalid(`missing weight shard '${name}'`, { file: name });
  }
  if (shards.length !== total) throw catalogErrors.invalid(`shard files disagree on the shard count (${total})`);
  return shards;
}

async function checkIndexMatches(
  files: ReadonlyMap<string, LocalModelFile>,
  found: ReadonlyMap<string, { file: string }>,
): Promise<void> {
  const indexFile = files.get(INDEX_FILE);
  if (!indexFile) return;
  const index = await readJsonFile(indexFile.path, INDEX_FILE);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw catalogErrors.invalid(`${INDEX_FILE} has no weight_map object`);
  }
  const entries = Object.entries(weightMap as Record<string, unknown>);
  for (const [tensor, file] of entries) {
    if (IGNORABLE_TENSOR.test(tensor)) continue;
    const actual = found.get(tensor);
    if (!actual) throw catalogErrors.invalid(`${INDEX_FILE} lists tensor '${tensor}' that no shard contains`, { tensor });
    if (actual.file !== file) {
      throw catalogErrors.invalid(`${INDEX_FILE} places '${tensor}' in ${String(file)} but it is in ${actual.file}`, { tensor });
    }
  }
  const listed = new Set(entries.map(([t]) => t));
  for (const tensor of found.keys()) {
    if (!listed.has(tensor)) throw catalogErrors.invalid(`tensor '${tensor}' is missing from ${INDEX_FILE}`, { tensor });
  }
}
