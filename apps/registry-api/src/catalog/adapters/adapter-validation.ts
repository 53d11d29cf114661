import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { catalogErrors } from '../catalog-errors';
import { stripFrontMatter } from '../cards/model-card';
import {
  checkAdapterAgainstBase,
  computeWeightSketch,
  parseBaseModelConfig,
  parsePeftConfig,
  readJsonFile,
  readSafetensorsHeader,
} from '../peft/peft-formats';
import type { AdapterTempFiles } from './adapter-files';

/** Everything the registry stores about an adapter version besides its blobs. */
export interface ValidatedAdapter {
  /** adapter_config.json exactly as parsed (unknown keys kept). */
  readonly configJson: Record<string, unknown>;
  readonly rank: number;
  /** Module names that carry LoRA tensors (e.g. q_proj, v_proj), sorted. */
  readonly targetModules: string[];
  readonly configSha256: string;
  readonly weightsSha256: string;
  readonly contentDigest: string;
  readonly sizeBytes: number;
  readonly cardBody: string;
  /** 256-float weight sketch (space sketch-v1), or null for adapters above SKETCH_MAX_WEIGHT_BYTES. */
  readonly sketch: Float32Array | null;
}

/** Largest adapter_model.safetensors whose weight sketch is computed at upload (f32 copies included, ~3x in memory). */
export const SKETCH_MAX_WEIGHT_BYTES = 512 * 1024 * 1024;

const LORA_KEY = /\.([A-Za-z0-9_]+)\.lora_(?:A|B|embedding_A|embedding_B)(?:\.weight)?$|\.([A-Za-z0-9_]+)\.lora_magnitude_vector$/;

/**
 * The identity of an adapter version's content: both files' digests under a domain prefix. Equal
 * bytes give an equal digest, which is what makes re-uploads idempotent.
 */
export function adapterContentDigest(configSha256: string, weightsSha256: string): string {
  return createHash('sha256').update(`palette-peft-lora-v1\n${configSha256}\n${weightsSha256}\n`).digest('hex');
}

/**
 * Strict validation of an uploaded adapter against its base model, all on temp files: config
 * schema (peft-core), safetensors header rules, every LoRA tensor's shape against r / rank_pattern
 * and the base model's dimensions, and targets that exist in the base. Then the weight sketch.
 * Throws (PeftCoreError or CatalogError) with a message naming the problem; touches no storage.
 */
export async function validateAdapterUpload(files: AdapterTempFiles, baseConfigJson: unknown): Promise<ValidatedAdapter> {
  const configJson = await readJsonFile(files.config.path, 'adapter_config.json');
  if (typeof configJson !== 'object' || configJson === null || Array.isArray(configJson)) {
    throw catalogErrors.invalid('adapter_config.json must be a JSON object');
  }
  const config = parsePeftConfig(configJson);
  const header = await readSafetensorsHeader(files.weights.path, 'adapter_model.safetensors');
  const base = parseBaseModelConfig(baseConfigJson);
  checkAdapterAgainstBase(config, header, base);

  const targets = new Set<string>();
  for (const name of header.tensors.keys()) {
    const m = LORA_KEY.exec(name);
    if (m) targets.add(m[1] ?? m[2]);
  }
  if (targets.size === 0) throw catalogErrors.invalid('adapter_model.safetensors contains no LoRA tensors');
  const rawRank = (configJson as { r?: unknown }).r;
  const rank = typeof rawRank === 'number' ? rawRank : 8;

  // The sketch needs every LoRA tensor in memory at once (peft-core's weightSketch takes the whole
  // adapter); above the cap the version is stored without one rather than risk the process's memory.
  const sketch = files.weights.size <= SKETCH_MAX_WEIGHT_BYTES ? await computeWeightSketch(files.config.path, files.weights.path, base) : null;
  const cardBody = files.card ? stripFrontMatter(await readFile(files.card.path, 'utf8')) : '';
  return {
    configJson: configJson as Record<string, unknown>,
    rank,
    targetModules: [...targets].sort(),
    configSha256: files.config.sha256,
    weightsSha256: files.weights.sha256,
    contentDigest: adapterContentDigest(files.config.sha256, files.weights.sha256),
    sizeBytes: files.config.size + files.weights.size,
    cardBody,
    sketch,
  };
}
