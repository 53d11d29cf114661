/**
 * AutoLoRA's contrastive objective and its training loop.
 *
 * A step takes B distinct adapters and one caption each (drawn uniformly from that adapter's
 * descriptions), embeds both sides — z_lora by the weight encoder, z_text = normalise(W·f + b)
 * from the frozen text encoder's pooled features f — and minimises the symmetric InfoNCE loss of
 * ALGORITHMS.md over S = Z_text Z_loraᵀ / τ:
 *   loss = mean_i[ −log softmax_rows(S)_ii ] + mean_i[ −log softmax_cols(S)_ii ].
 * Only the weight encoder and the text projection train; the text encoder is frozen, so every
 * caption's features are computed once, before the first step.
 */
import { PeftCoreError } from '../errors';
import { gradients } from '../graph/autodiff';
import { compile } from '../graph/compile';
import { Graph } from '../graph/graph';
import * as nn from '../graph/nn';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import type { Value } from '../graph/value';
import type { LoraWeights } from '../lora/adapter';
import { AdamW } from '../optim/adamw';
import { clipGradNorm } from '../optim/gradients';
import { cosineWithWarmup } from '../optim/schedule';
import { Rng } from '../util/rng';
import { packAdapterBatch, type EncoderLayout } from './adapter-batch';
import { RETRIEVER_FORMAT, RETRIEVER_FORMAT_VERSION, retrieverSpaceId, TEXT_PROJECTION_PARAM, type RetrieverArtifact, type RetrieverManifest } from './artifact';
import { combineTextFeatures, fitLexicalIdf, LEXICAL_IDF_PARAM, validateLexicalConfig, type LexicalConfig } from './lexical';
import type { TextFeatureEncoder } from './text-encoder';
import {
  buildWeightEncoder,
  declareAdapterBatchInputs,
  declareWeightEncoderParams,
  encoderParamFeeds,
  initWeightEncoderParams,
  l2Normalize,
  weightEncoderConfig,
  type WeightEncoderOptions,
} from './weight-encoder';

/** Symmetric InfoNCE of a similarity matrix S [N, N] whose matching pairs sit on the diagonal. */
export function symmetricInfoNce(g: Graph, similarity: Value, diagonal: Value): Value {
  return g.add(nn.crossEntropy(g, similarity, diagonal), nn.crossEntropy(g, g.transpose(similarity, [1, 0]), diagonal));
}

/** The text side in the graph: unit rows of W·f + b. */
export function buildTextProjection(g: Graph, features: Value, weight: Value, bias: Value): Value {
  return l2Normalize(g, nn.linear(g, features, weight, bias));
}

/** An adapter with the captions that describe it. */
export interface RetrieverTrainingAdapter {
  readonly id: string;
  readonly weights: LoraWeights;
  /** At least one; several per adapter make the text side generalise. */
  readonly descriptions: readonly string[];
}

export interface ContrastiveOptions {
  readonly steps?: number;
  /** Distinct adapters per step (capped at the number of adapters). Default 16. */
  readonly batchSize?: number;
  readonly lr?: number;
  readonly warmupSteps?: number;
  readonly weightDecay?: number;
  /** τ of the InfoNCE logits. Default 0.1. */
  readonly temperature?: number;
  readonly maxGradNorm?: number;
  readonly seed?: number;
  readonly encoder?: WeightEncoderOptions;
  /**
   * A hashed lexical channel (lexical.ts) next to the frozen encoder's features: its IDF is fitted
   * on every training caption. Absent: the encoder's features alone.
   */
  readonly lexical?: LexicalConfig;
}

export interface ContrastiveProgress {
  readonly step: number;
  readonly totalSteps: number;
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  readonly elapsedMs: number;
}

export interface TrainRetrieverInput {
  readonly adapters: readonly RetrieverTrainingAdapter[];
  readonly layout: EncoderLayout;
  readonly textEncoder: TextFeatureEncoder;
  readonly options?: ContrastiveOptions;
  readonly onProgress?: (progress: ContrastiveProgress) => void;
  readonly signal?: AbortSignal;
}

function initTextProjection(outDim: number, featureDim: number, rng: Rng): Map<string, Float32Array> {
  const std = 1 / Math.sqrt(featureDim);
  return new Map([
    [TEXT_PROJECTION_PARAM.weight, Float32Array.from({ length: outDim * featureDim }, () => std * rng.normal())],
    [TEXT_PROJECTION_PARAM.bias, new Float32Array(outDim)],
  ]);
}

/**
 * Trains the weight encoder and the text projection on (adapter, caption) pairs; returns the
 * artifact (params + manifest with its space id). Same inputs and seed → the same artifact.
 */
export async function trainRetriever(input: TrainRetrieverInput): Promise<RetrieverArtifact> {
  const { adapters, layout, textEncoder } = input;
  const o = input.options ?? {};
  const steps = o.steps ?? 300;
  const lr = o.lr ?? 3e-3;
  const temperature = o.temperature ?? 0.1;
  const seed = o.seed ?? 0;
  if (adapters.length < 2) throw new PeftCoreError('INVALID_ARGUMENT', `train-retriever: contrastive training needs at least 2 adapters, got ${adapters.length}`);
  const noCaption = adapters.find((a) => a.descriptions.length === 0);
  if (noCaption) throw new PeftCoreError('INVALID_ARGUMENT', `train-retriever: adapter ${noCaption.id} has no description`);
  if (!(temperature > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `train-retriever: temperature must be positive, got ${temperature}`);
  if (!(Number.isInteger(steps) && steps > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `train-retriever: steps must be a positive integer, got ${steps}`);
  const batchSize = Math.min(o.batchSize ?? 16, adapters.length);
  if (batchSize < 2) throw new PeftCoreError('INVALID_ARGUMENT', 'train-retriever: batchSize must be at least 2');
  const encoder = weightEncoderConfig(layout, o.encoder);
  if (o.lexical) validateLexicalConfig(o.lexical);
  const lexical = o.lexical ? { config: { ...o.lexical }, idf: fitLexicalIdf(adapters.flatMap((a) => a.descriptions), o.lexical) } : undefined;
  // What the projection sees: the encoder's features, then the lexical channel's (if any).
  const featureDim = textEncoder.featureDim + (lexical?.config.buckets ?? 0);
  const started = Date.now();

  // The frozen text side, once: features of every caption of every adapter.
  const captionFeatures = await Promise.all(
    adapters.map(async (a) => (await textEncoder.features(a.descriptions)).map((f, i) => combineTextFeatures(f, a.descriptions[i]!, lexical))),
  );

  const rng = new Rng(seed);
  const params = new Map<string, Float32Array>([...initWeightEncoderParams(encoder, seed), ...initTextProjection(encoder.outDim, featureDim, rng)]);

  const g = new Graph();
  const encoderParams = declareWeightEncoderParams(g, encoder);
  const projWeight = g.input(TEXT_PROJECTION_PARAM.weight, 'float32', [encoder.outDim, featureDim]);
  const projBias = g.input(TEXT_PROJECTION_PARAM.bias, 'float32', [encoder.outDim]);
  const features = g.input('text.features', 'float32', ['adapters', featureDim]);
  const diagonal = g.input('diagonal', 'int64', ['adapters']);
  const zLora = buildWeightEncoder(g, encoder, encoderParams, declareAdapterBatchInputs(g, encoder));
  const zText = buildTextProjection(g, features, projWeight, projBias);
  const similarity = g.mul(g.matmul(zText, zLora, { transB: true }), 1 / temperature);
  const loss = symmetricInfoNce(g, similarity, diagonal);
  g.output('loss', loss);
  const trainable = new Map<string, Value>([...encoderParams, [TEXT_PROJECTION_PARAM.weight, projWeight], [TEXT_PROJECTION_PARAM.bias, projBias]]);
  const names = [...trainable.keys()];
  gradients(g, loss, names.map((n) => trainable.get(n)!)).forEach((grad, i) => g.output(`grad:${names[i]}`, grad));
  const step = await compile(g);

  const optimizer = new AdamW(params, { lr, weightDecay: o.weightDecay ?? 1e-4, decays: (name) => !/norm|bias|position|probe/.test(name) });
  const schedule = cosineWithWarmup({ baseLr: lr, warmupSteps: o.warmupSteps ?? Math.min(20, Math.floor(steps / 10)), totalSteps: steps, minLr: lr / 10 });
  const order: number[] = [];
  let lastLoss = Number.NaN;
  try {
    for (let s = 0; s < steps; s++) {
      input.signal?.throwIfAborted();
      // Epochs over a shuffled adapter order, so every adapter is seen equally often.
      while (order.length < batchSize) order.push(...rng.shuffle(Array.from({ length: adapters.length }, (_, i) => i)));
      const picked = distinctPrefix(order, batchSize);
      const feats = new Float32Array(picked.length * featureDim);
      picked.forEach((a, i) => {
        const options = captionFeatures[a]!;
        feats.set(options[rng.int(options.length)]!, i * featureDim);
      });
      const feeds: Record<string, TensorData> = {
        ...encoderParamFeeds(encoder, params),
        [TEXT_PROJECTION_PARAM.weight]: tensorData('float32', [encoder.outDim, featureDim], params.get(TEXT_PROJECTION_PARAM.weight)!),
        [TEXT_PROJECTION_PARAM.bias]: tensorData('float32', [encoder.outDim], params.get(TEXT_PROJECTION_PARAM.bias)!),
        ...packAdapterBatch(layout, picked.map((a) => adapters[a]!.weights)),
        'text.features': tensorData('float32', [picked.length, featureDim], feats),
        diagonal: tensorData('int64', [picked.length], BigInt64Array.from(picked, (_, i) => BigInt(i))),
      };
      const out = await step.run(feeds);
      lastLoss = out.loss!.data[0] as number;
      if (!Number.isFinite(lastLoss)) throw new PeftCoreError('TRAINING_DIVERGED', `train-retriever: loss is ${lastLoss} at step ${s}`);
      const grads = new Map(names.map((n) => [n, out[`grad:${n}`]!.data as Float32Array]));
      const gradNorm = clipGradNorm(grads, o.maxGradNorm ?? 1);
      const stepLr = schedule(s + 1);
      optimizer.step(grads, stepLr);
      input.onProgress?.({ step: s + 1, totalSteps: steps, loss: lastLoss, lr: stepLr, gradNorm, elapsedMs: Date.now() - started });
    }
  } finally {
    await step.dispose();
  }

  const manifestBody: Omit<RetrieverManifest, 'space' | 'training'> = {
    format: RETRIEVER_FORMAT,
    version: RETRIEVER_FORMAT_VERSION,
    weightEncoder: encoder,
    text: { kind: textEncoder.kind, encoderId: textEncoder.id, featureDim: textEncoder.featureDim, ...(lexical ? { lexical: lexical.config } : {}) },
    temperature,
  };
  if (lexical) params.set(LEXICAL_IDF_PARAM, lexical.idf);
  const manifest: RetrieverManifest = {
    ...manifestBody,
    space: retrieverSpaceId(manifestBody, params),
    training: {
      steps,
      batchSize,
      lr,
      seed,
      adapters: adapters.length,
      captions: adapters.reduce((n, a) => n + a.descriptions.length, 0),
      finalLoss: lastLoss,
    },
  };
  return { manifest, params };
}

/** Takes `count` distinct indices off the front of `order` (a later duplicate stays queued). */
function distinctPrefix(order: number[], count: number): number[] {
  const picked: number[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < order.length && picked.length < count; ) {
    const a = order[i]!;
    if (seen.has(a)) {
      i++;
      continue;
    }
    seen.add(a);
    picked.push(a);
    order.splice(i, 1);
  }
  return picked;
}
