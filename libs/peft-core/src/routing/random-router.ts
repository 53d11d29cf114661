/**
 * Untrained but non-trivial router artifacts for tests (router serving, registry round trips):
 * random gates, random non-zero FlyLoRA B and d, random X-Cross fusion. The numbers mean nothing;
 * what a test checks is that every path computes the same function.
 */
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { LoraWeights } from '../lora/adapter';
import { loraTargetsOf } from '../model/lora-inputs';
import { decoderLinearSites } from '../model/decoder';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { Rng } from '../util/rng';
import { createFlyLora, flyLoraArtifact, mergeFlyLoraAdapters } from './flylora';
import { createRouterArtifact, type RouterArtifact, type RouterKind } from './router-artifact';

export interface RandomRouterOptions {
  readonly kind: RouterKind;
  readonly baseModel: string;
  /** "name@version" of each expert / stream / source task. */
  readonly expertRefs: readonly string[];
  /** The experts' weights (MeteoRA, X-Cross: they fix the target modules). */
  readonly experts?: readonly LoraWeights[];
  readonly seed: number;
  /** MeteoRA: random prefix gates over the vocabulary, in the line scope with these separators when given. */
  readonly prefix?: { readonly lineBreaks?: readonly number[] };
  /** Scale of the random tensors (default 0.5 for gates, 0.05 for fusion / FlyLoRA B). */
  readonly scale?: number;
}

export function randomRouterArtifact(config: ModelConfig, o: RandomRouterOptions): RouterArtifact {
  const rng = new Rng(o.seed);
  const n = o.expertRefs.length;
  const normal = (shape: number[], std: number): HostTensor => hostTensor(shape, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => std * rng.normal()));
  if (o.kind === 'flylora') {
    const parts = o.expertRefs.map((_, i) => {
      const a = createFlyLora(config, { rank: 8, topK: 2, alpha: 16, seed: o.seed + 1 + i });
      for (const m of a.modules.values()) {
        m.B.data.set(normal([...m.B.shape], o.scale ?? 0.5).data);
        m.d.set(normal([m.d.length], 0.01).data);
      }
      return a;
    });
    return flyLoraArtifact(mergeFlyLoraAdapters(parts), { baseModel: o.baseModel, sources: o.expertRefs });
  }
  if (o.experts === undefined || o.experts.length !== n) throw new PeftCoreError('INVALID_ARGUMENT', `a random ${o.kind} router needs the weights of its ${n} experts`);
  const targets = loraTargetsOf(config, o.experts);
  if (o.kind === 'meteora') {
    const sites = new Map(decoderLinearSites(config).map((s) => [s.path, s]));
    const tensors = new Map(targets.paths.map((p) => [`gate.${p}`, normal([n, sites.get(p)!.inFeatures], o.scale ?? 0.5)]));
    const breaks = o.prefix?.lineBreaks ?? [];
    if (o.prefix !== undefined) for (const p of targets.paths) tensors.set(`prefix_gate.${p}`, normal([n, config.vocabSize], o.scale ?? 0.5));
    if (breaks.length > 0) tensors.set('prefix_line_breaks', hostTensor([breaks.length], Float32Array.from(breaks)));
    const prefix = o.prefix !== undefined ? { prefixTokens: config.vocabSize, ...(breaks.length > 0 ? { prefixLineBreaks: breaks.length } : {}) } : {};
    return createRouterArtifact(
      { kind: 'meteora', baseModel: o.baseModel, experts: o.expertRefs, targets: targets.paths, hyperparameters: { topK: Math.min(2, n), temperature: 1, auxLossWeight: 50, ...prefix }, metrics: {} },
      tensors,
    );
  }
  const pairs = n * (n - 1);
  const tensors = new Map<string, HostTensor>();
  for (let l = 0; l < config.numLayers; l++) tensors.set(`layers.${l}.w_cat`, normal([2 * pairs, n * config.hiddenSize], o.scale ?? 0.05));
  tensors.set('stream_weights', hostTensor([n], Float32Array.from({ length: n }, (_, i) => (i + 1) / ((n * (n + 1)) / 2))));
  return createRouterArtifact(
    { kind: 'xcross', baseModel: o.baseModel, experts: o.expertRefs, targets: targets.paths, hyperparameters: { streams: n, beta: 1, gamma: 1 }, metrics: {} },
    tensors,
  );
}
