/**
 * The catalog's one doorway to @palette/peft-core's format code. Keeping every call here means the
 * upload pipeline reads as catalog logic, and a change in peft-core's signatures touches one file.
 * Everything here is CPU/disk work on temp files; nothing touches the database or the blob store.
 */
import { readFile } from 'node:fs/promises';
import type { ModelConfig } from '@palette/peft-core';
import { architectureSummary, expectedWeightShapes, parseModelConfig } from '@palette/peft-core/formats/hf-config';
import { parseAdapterConfig, readPeftAdapter, validateAdapter, type AdapterConfig } from '@palette/peft-core/formats/peft-adapter';
import { weightSketch } from '@palette/peft-core/sketch/weight-sketch';
import { SafetensorsFile, type SafetensorsHeader } from '@palette/peft-core/formats/safetensors';
import { catalogErrors } from '../catalog-errors';

export type { AdapterConfig, ModelConfig, SafetensorsHeader };

/** Width of every embedding space; the Embedding.vector column is vector(256). */
export const SKETCH_DIM = 256;
/** The embedding space name of weight sketches; bump it when weightSketch's method changes. */
export const SKETCH_SPACE = 'sketch-v1';

/** Parses a JSON file that the upload limits already bounded; names the file when it is not JSON. */
export async function readJsonFile(filePath: string, label: string): Promise<unknown> {
  const text = await readFile(filePath, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw catalogErrors.invalid(`${label} is not valid JSON: ${(err as Error).message}`, { file: label });
  }
}

/** Reads only the header of a safetensors file (its tensors stay on disk). */
export async function readSafetensorsHeader(filePath: string, label: string): Promise<SafetensorsHeader> {
  const file = await SafetensorsFile.open(filePath).catch((err: unknown) => {
    throw relabel(err, filePath, label);
  });
  try {
    return file.header;
  } finally {
    await file.close();
  }
}

/** peft-core prefixes messages with the temp path; clients should see the file name they sent. */
function relabel(err: unknown, filePath: string, label: string): unknown {
  if (err instanceof Error && err.message.includes(filePath)) err.message = err.message.split(filePath).join(label);
  return err;
}

export function parseBaseModelConfig(json: unknown): ModelConfig {
  return parseModelConfig(json);
}

export type ArchitectureSummary = ReturnType<typeof architectureSummary>;

export function summariseArchitecture(config: ModelConfig): ArchitectureSummary {
  return architectureSummary(config);
}

export function baseWeightShapes(config: ModelConfig): Map<string, number[]> {
  return expectedWeightShapes(config);
}

export function parsePeftConfig(json: unknown): AdapterConfig {
  return parseAdapterConfig(json);
}

/** Strict adapter validation: shapes against r / rank_pattern and the base's dims, targets that exist. */
export function checkAdapterAgainstBase(config: AdapterConfig, header: SafetensorsHeader, base: ModelConfig): void {
  validateAdapter(config, header, base);
}

/**
 * The adapter's weight sketch: basis-invariant (computed from scaling·B·A only), 256 floats,
 * L2-normalised. Reads the weights file whole: adapters are megabytes, not gigabytes, and the
 * upload limit bounds them.
 */
export async function computeWeightSketch(configPath: string, weightsPath: string, base: ModelConfig): Promise<Float32Array> {
  const [configJson, safetensors] = await Promise.all([readFile(configPath), readFile(weightsPath)]);
  const adapter = readPeftAdapter({ configJson: new Uint8Array(configJson), safetensors: new Uint8Array(safetensors) });
  const sketch = weightSketch(adapter.weights, base, SKETCH_DIM);
  if (sketch.length !== SKETCH_DIM) throw new Error(`weightSketch returned ${sketch.length} values, expected ${SKETCH_DIM}`);
  return sketch;
}
