import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hostTensor } from '@palette/peft-core/tensor/host-tensor';
import { createRouterArtifact, encodeRouterArtifact } from '@palette/peft-core/routing/router-artifact';
import { RETRIEVER_FORMAT, RETRIEVER_FORMAT_VERSION, TEXT_PROJECTION_PARAM, retrieverSpaceId, writeRetrieverArtifact, type RetrieverManifest } from '@palette/peft-core/retrieval/artifact';
import { initWeightEncoderParams, weightEncoderConfig } from '@palette/peft-core/retrieval/weight-encoder';
import { DISCRIMINATOR_FORMAT } from '@palette/peft-core/transfer/discriminator-artifact';
import { Rng } from '@palette/peft-core/util/rng';
import { TINY_DIMS, buildAdapter } from '../fixtures/peft-fixtures';

/**
 * Tiny, valid artifacts of each kind built with peft-core's own writers (so the registry is tested
 * against the bytes the trainers will produce), as file name → bytes.
 */

function seeded(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * 0.1);
}

/** A MeteoRA router over `experts` ("name@version") on `baseModel`: one gate [N, hidden] per target. */
export function buildRouterFiles(options: { baseModel: string; experts: readonly string[]; seed?: number; metrics?: Record<string, number> }): Map<string, Buffer> {
  const rng = new Rng(options.seed ?? 3);
  const targets = ['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.q_proj'];
  const n = options.experts.length;
  const tensors = new Map(targets.map((t) => [`gate.${t}`, hostTensor([n, TINY_DIMS.hidden], seeded(n * TINY_DIMS.hidden, rng))]));
  const artifact = createRouterArtifact(
    { kind: 'meteora', baseModel: options.baseModel, experts: [...options.experts], targets, hyperparameters: { topK: Math.min(2, n), temperature: 1, auxLossWeight: 1 }, metrics: options.metrics ?? { gateAccuracy: 0.9 } },
    tensors,
  );
  const encoded = encodeRouterArtifact(artifact);
  return new Map([
    ['router.json', Buffer.from(encoded.manifest)],
    ['router.safetensors', Buffer.from(encoded.tensors)],
  ]);
}

/** A retriever with a 1-layer, 1-type weight encoder and a 3-feature text projection. */
export async function buildRetrieverFiles(seed = 5): Promise<Map<string, Buffer>> {
  const layout = { numLayers: 1, types: [{ name: 'q_proj', inDim: 4, outDim: 4 }] };
  const encoder = weightEncoderConfig(layout, { probes: 1, width: 4, heads: 1, blocks: 1, ffnWidth: 4, outDim: 4 });
  const featureDim = 3;
  const rng = new Rng(seed);
  const params = new Map<string, Float32Array>([
    ...initWeightEncoderParams(encoder, seed),
    [TEXT_PROJECTION_PARAM.weight, seeded(encoder.outDim * featureDim, rng)],
    [TEXT_PROJECTION_PARAM.bias, new Float32Array(encoder.outDim)],
  ]);
  const model = { format: RETRIEVER_FORMAT, version: RETRIEVER_FORMAT_VERSION, weightEncoder: encoder, text: { kind: 'onnx', encoderId: 'test-encoder', featureDim } } as const;
  const manifest: RetrieverManifest = {
    ...model,
    space: retrieverSpaceId({ ...model, temperature: 0.07 }, params),
    temperature: 0.07,
    training: { steps: 1, batchSize: 2, lr: 0.01, seed, adapters: 2, captions: 2, finalLoss: 0.5 },
  };
  const dir = await mkdtemp(path.join(tmpdir(), 'retriever-fixture-'));
  try {
    await writeRetrieverArtifact(dir, { manifest, params });
    return new Map([
      ['retriever.json', await readFile(path.join(dir, 'retriever.json'))],
      ['retriever.safetensors', await readFile(path.join(dir, 'retriever.safetensors'))],
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A Trans-LoRA discriminator: a tiny PEFT adapter + discriminator.json for the tiny base's dimensions. */
export function buildDiscriminatorFiles(options: { seed?: number; hiddenSize?: number } = {}): Map<string, Buffer> {
  const adapter = buildAdapter({ seed: options.seed ?? 21 });
  const meta = {
    format: DISCRIMINATOR_FORMAT,
    question: '\nIs this prompt real? Answer:',
    answers: { real: ' yes', synthetic: ' no' },
    answerPrefixTokenIds: [],
    answerTokenIds: { real: 5, synthetic: 6 },
    threshold: 0.5,
    base: { family: 'llama', hiddenSize: options.hiddenSize ?? TINY_DIMS.hidden, numLayers: TINY_DIMS.layers, vocabSize: TINY_DIMS.vocab },
    training: { realPrompts: 4, syntheticPrompts: 4, steps: 2, finalLoss: 0.6 },
  };
  return new Map([
    ['discriminator.json', Buffer.from(`${JSON.stringify(meta, null, 2)}\n`)],
    ['adapter_config.json', adapter.config],
    ['adapter_model.safetensors', adapter.weights],
  ]);
}
