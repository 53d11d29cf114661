/**
 * A trained retriever on disk: `retriever.json` (manifest) + `retriever.safetensors` (the weight
 * encoder's and the text projection's parameters, F32).
 *
 * The embedding space id ('autolora-v1-<12 hex>') is a digest of the manifest's model fields and
 * every tensor's bytes: two artifacts share a space exactly when they embed identically, so the
 * registry can keep vectors of several retrievers side by side (Embedding.space) and never
 * compare vectors across spaces.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { PeftCoreError } from '../errors';
import { readSafetensors, tensorToFloat32, writeSafetensors } from '../formats/safetensors';
import type { EncoderLayout } from './adapter-batch';
import { LEXICAL_IDF_PARAM, validateLexicalConfig, type LexicalConfig } from './lexical';
import { weightEncoderConfig, weightEncoderParamShapes, type WeightEncoderConfig } from './weight-encoder';

export const RETRIEVER_FORMAT = 'palette-retriever';
export const RETRIEVER_FORMAT_VERSION = 1;
export const RETRIEVER_MANIFEST_FILE = 'retriever.json';
export const RETRIEVER_TENSORS_FILE = 'retriever.safetensors';

export const TEXT_PROJECTION_PARAM = { weight: 'text.proj.weight', bias: 'text.proj.bias' } as const;

export interface TextSideManifest {
  /** The frozen encoder's kind ('base-model' | 'onnx') and id: queries must use the same one. */
  readonly kind: string;
  readonly encoderId: string;
  readonly featureDim: number;
  /**
   * The hashed lexical channel (lexical.ts) concatenated after the encoder's features, when the
   * retriever was trained with one; its IDF weights are the tensor `text.lexical.idf`.
   */
  readonly lexical?: LexicalConfig;
}

export interface TrainingSummary {
  readonly steps: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly seed: number;
  readonly adapters: number;
  readonly captions: number;
  readonly finalLoss: number;
}

export interface RetrieverManifest {
  readonly format: typeof RETRIEVER_FORMAT;
  readonly version: typeof RETRIEVER_FORMAT_VERSION;
  /** 'autolora-v1-<digest>'. */
  readonly space: string;
  readonly weightEncoder: Omit<WeightEncoderConfig, 'layout'> & { readonly layout: EncoderLayout };
  readonly text: TextSideManifest;
  /** InfoNCE temperature used in training (kept for reference; cosine ranking ignores it). */
  readonly temperature: number;
  readonly training: TrainingSummary;
}

export interface RetrieverArtifact {
  readonly manifest: RetrieverManifest;
  readonly params: ReadonlyMap<string, Float32Array>;
}

function invalid(message: string): PeftCoreError {
  return new PeftCoreError('CHECKPOINT_INVALID', `retriever artifact: ${message}`);
}

/** Every tensor of an artifact with this encoder config, text feature size and lexical channel, by name. */
export function retrieverParamShapes(encoder: WeightEncoderConfig, featureDim: number, lexical?: LexicalConfig): Map<string, number[]> {
  const shapes = weightEncoderParamShapes(encoder);
  shapes.set(TEXT_PROJECTION_PARAM.weight, [encoder.outDim, featureDim + (lexical?.buckets ?? 0)]);
  shapes.set(TEXT_PROJECTION_PARAM.bias, [encoder.outDim]);
  if (lexical) shapes.set(LEXICAL_IDF_PARAM, [lexical.buckets]);
  return shapes;
}

/** 'autolora-v1-' + the first 12 hex digits of sha256(model fields of the manifest, tensors in name order). */
export function retrieverSpaceId(manifest: Omit<RetrieverManifest, 'space' | 'training'>, params: ReadonlyMap<string, Float32Array>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ format: manifest.format, version: manifest.version, weightEncoder: manifest.weightEncoder, text: manifest.text }));
  for (const name of [...params.keys()].sort()) {
    const data = params.get(name)!;
    hash.update(name);
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return `autolora-v${RETRIEVER_FORMAT_VERSION}-${hash.digest('hex').slice(0, 12)}`;
}

/** Checks names, shapes and values of the params against the manifest, and the space id against both. */
export function validateRetrieverArtifact(artifact: RetrieverArtifact): void {
  const { manifest, params } = artifact;
  if (manifest.format !== RETRIEVER_FORMAT) throw invalid(`format is ${JSON.stringify(manifest.format)}, expected "${RETRIEVER_FORMAT}"`);
  if (manifest.version !== RETRIEVER_FORMAT_VERSION) throw invalid(`version ${manifest.version} is not supported (this build reads ${RETRIEVER_FORMAT_VERSION})`);
  const { layout, ...rest } = manifest.weightEncoder;
  let encoder: WeightEncoderConfig;
  try {
    encoder = weightEncoderConfig(layout, rest);
  } catch (error) {
    throw invalid(`weightEncoder: ${(error as Error).message}`);
  }
  if (!(Number.isInteger(manifest.text?.featureDim) && manifest.text.featureDim > 0)) throw invalid('text.featureDim must be a positive integer');
  if (manifest.text.lexical !== undefined) {
    try {
      validateLexicalConfig(manifest.text.lexical);
    } catch (error) {
      throw invalid(`text.lexical: ${(error as Error).message}`);
    }
  }
  const shapes = retrieverParamShapes(encoder, manifest.text.featureDim, manifest.text.lexical);
  for (const [name, shape] of shapes) {
    const data = params.get(name);
    const n = shape.reduce((a, b) => a * b, 1);
    if (!data) throw invalid(`tensor ${name} is missing`);
    if (data.length !== n) throw invalid(`tensor ${name} has ${data.length} values, shape [${shape.join(', ')}] needs ${n}`);
    if (!data.every(Number.isFinite)) throw invalid(`tensor ${name} has non-finite values`);
  }
  const extra = [...params.keys()].filter((name) => !shapes.has(name));
  if (extra.length > 0) throw invalid(`unexpected tensors ${extra.join(', ')}`);
  const space = retrieverSpaceId(manifest, params);
  if (manifest.space !== space) throw invalid(`space id ${manifest.space} does not match its contents (${space}): the files were edited or mixed`);
}

/** Writes retriever.json + retriever.safetensors into `dir` (created if needed); each file lands whole (tmp + rename). */
export async function writeRetrieverArtifact(dir: string, artifact: RetrieverArtifact): Promise<void> {
  validateRetrieverArtifact(artifact);
  await mkdir(dir, { recursive: true });
  const shapes = retrieverParamShapes(weightEncoderConfig(artifact.manifest.weightEncoder.layout, artifact.manifest.weightEncoder), artifact.manifest.text.featureDim, artifact.manifest.text.lexical);
  const tensors = [...shapes].map(([name, shape]) => {
    const data = artifact.params.get(name)!;
    return { name, dtype: 'F32' as const, shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  });
  const files: Array<[string, Uint8Array | string]> = [
    [RETRIEVER_TENSORS_FILE, writeSafetensors(tensors, { format: 'pt', space: artifact.manifest.space })],
    [RETRIEVER_MANIFEST_FILE, `${JSON.stringify(artifact.manifest, null, 2)}\n`],
  ];
  for (const [name, content] of files) {
    const target = path.join(dir, name);
    await writeFile(`${target}.tmp`, content);
    await rename(`${target}.tmp`, target);
  }
}

/** Reads and validates an artifact directory written by writeRetrieverArtifact. */
export async function readRetrieverArtifact(dir: string): Promise<RetrieverArtifact> {
  let manifest: RetrieverManifest;
  try {
    manifest = JSON.parse(await readFile(path.join(dir, RETRIEVER_MANIFEST_FILE), 'utf8')) as RetrieverManifest;
  } catch (error) {
    throw invalid(`cannot read ${RETRIEVER_MANIFEST_FILE} in ${dir}: ${(error as Error).message}`);
  }
  if (typeof manifest !== 'object' || manifest === null || typeof manifest.weightEncoder !== 'object' || manifest.weightEncoder === null) {
    throw invalid(`${RETRIEVER_MANIFEST_FILE} is not a retriever manifest`);
  }
  const bytes = new Uint8Array(await readFile(path.join(dir, RETRIEVER_TENSORS_FILE)));
  const params = new Map<string, Float32Array>();
  for (const [name, tensor] of readSafetensors(bytes).tensors) {
    if (tensor.dtype !== 'F32') throw invalid(`tensor ${name} is ${tensor.dtype}, expected F32`);
    params.set(name, tensorToFloat32(tensor, name).data);
  }
  const artifact = { manifest, params };
  validateRetrieverArtifact(artifact);
  return artifact;
}
