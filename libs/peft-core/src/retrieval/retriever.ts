/**
 * A trained retriever at inference: adapters → z_lora (the embed job) and texts → z_text (the
 * search route's query side), both unit vectors in the artifact's space; plus plain cosine
 * ranking for callers without a vector index.
 */
import { PeftCoreError } from '../errors';
import type { LoraWeights } from '../lora/adapter';
import { TEXT_PROJECTION_PARAM, validateRetrieverArtifact, type RetrieverArtifact } from './artifact';
import { combineTextFeatures, LEXICAL_IDF_PARAM } from './lexical';
import type { TextFeatureEncoder } from './text-encoder';
import { WeightEncoder, weightEncoderConfig } from './weight-encoder';

/** normalise(W·f + b) on the host, W [out, featureDim]. */
export function projectTextFeatures(weight: Float32Array, bias: Float32Array, features: Float32Array): Float32Array {
  const out = bias.length;
  const dim = features.length;
  if (weight.length !== out * dim) throw new PeftCoreError('SHAPE_MISMATCH', `text projection: weight has ${weight.length} values, expected ${out}×${dim}`);
  const z = new Float64Array(out);
  let norm = 0;
  for (let o = 0; o < out; o++) {
    let s = bias[o]!;
    const row = o * dim;
    for (let i = 0; i < dim; i++) s += weight[row + i]! * features[i]!;
    z[o] = s;
    norm += s * s;
  }
  norm = Math.sqrt(norm + 1e-12);
  return Float32Array.from(z, (v) => v / norm);
}

export class Retriever {
  private constructor(
    readonly artifact: RetrieverArtifact,
    private readonly weights: WeightEncoder,
    private readonly text: TextFeatureEncoder,
  ) {}

  /** The frozen text encoder it was opened with (its owner disposes it). */
  get textEncoder(): TextFeatureEncoder {
    return this.text;
  }

  /** The embedding space id vectors of this retriever are stored under. */
  get space(): string {
    return this.artifact.manifest.space;
  }

  /** Opens a retriever; the text encoder must be the one it was trained with (kind, id, feature size). */
  static async create(artifact: RetrieverArtifact, textEncoder: TextFeatureEncoder): Promise<Retriever> {
    validateRetrieverArtifact(artifact);
    const { manifest } = artifact;
    const expected = manifest.text;
    if (textEncoder.kind !== expected.kind || textEncoder.id !== expected.encoderId || textEncoder.featureDim !== expected.featureDim) {
      throw new PeftCoreError(
        'INVALID_ARGUMENT',
        `retriever ${manifest.space} was trained with text encoder ${expected.kind}:${expected.encoderId} (${expected.featureDim} features), ` +
          `got ${textEncoder.kind}:${textEncoder.id} (${textEncoder.featureDim})`,
      );
    }
    const config = weightEncoderConfig(manifest.weightEncoder.layout, manifest.weightEncoder);
    return new Retriever(artifact, await WeightEncoder.create(config, artifact.params), textEncoder);
  }

  embedAdapters(adapters: readonly LoraWeights[]): Promise<Float32Array[]> {
    return this.weights.encode(adapters);
  }

  async embedTexts(texts: readonly string[]): Promise<Float32Array[]> {
    const features = await this.text.features(texts);
    const weight = this.artifact.params.get(TEXT_PROJECTION_PARAM.weight)!;
    const bias = this.artifact.params.get(TEXT_PROJECTION_PARAM.bias)!;
    // The same feature assembly as training (contrastive.ts): encoder features, then the lexical channel.
    const config = this.artifact.manifest.text.lexical;
    const lexical = config ? { config, idf: this.artifact.params.get(LEXICAL_IDF_PARAM)! } : undefined;
    return features.map((f, i) => projectTextFeatures(weight, bias, combineTextFeatures(f, texts[i]!, lexical)));
  }

  /**
   * One text vector for an adapter: the normalised mean of its captions' vectors (what the embed
   * job and the registry store as the version's `text` embedding); null without captions.
   */
  async embedCaptions(captions: readonly string[]): Promise<Float32Array | null> {
    return captions.length === 0 ? null : meanUnitVector(await this.embedTexts(captions));
  }

  /** Disposes the weight encoder's session (the text encoder belongs to the caller). */
  dispose(): Promise<void> {
    return this.weights.dispose();
  }
}

/** Indices of the k most cosine-similar candidates to `query` (all unit vectors), best first. */
export function topKByCosine(query: Float32Array, candidates: readonly Float32Array[], k: number): number[] {
  const scored = candidates.map((c, i) => {
    if (c.length !== query.length) throw new PeftCoreError('SHAPE_MISMATCH', `candidate ${i} has ${c.length} dimensions, the query ${query.length}`);
    let dot = 0;
    for (let j = 0; j < c.length; j++) dot += c[j]! * query[j]!;
    return { i, dot };
  });
  scored.sort((a, b) => b.dot - a.dot || a.i - b.i);
  return scored.slice(0, k).map((s) => s.i);
}

/** The normalised mean of vectors of one length. */
export function meanUnitVector(vectors: readonly Float32Array[]): Float32Array {
  if (vectors.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'meanUnitVector: no vectors');
  const out = new Float64Array(vectors[0]!.length);
  for (const v of vectors) {
    if (v.length !== out.length) throw new PeftCoreError('SHAPE_MISMATCH', `meanUnitVector: vectors of ${out.length} and ${v.length} dimensions`);
    for (let i = 0; i < v.length; i++) out[i]! += v[i]!;
  }
  let norm = 0;
  for (const x of out) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return Float32Array.from(out, (x) => x / norm);
}
