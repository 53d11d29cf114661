import assert from 'node:assert/strict';
import { compile } from '../../src/graph/compile';
import { Graph } from '../../src/graph/graph';
import type { TensorData } from '../../src/graph/types';
import type { ModelConfig } from '../../src/formats/model-config';
import type { LoraWeights } from '../../src/lora/adapter';
import type { HostTensor } from '../../src/tensor/host-tensor';
import { buildDecoderForward } from '../../src/model/decoder';
import { declareDecoderInputs, stepFeeds } from '../../src/model/decoder-inputs';
import { declareDecoderParams } from '../../src/model/decoder-params';
import { declareSingleLora, loraTargetsOf, singleLoraFeeds } from '../../src/model/lora-inputs';

/** Largest |a − b| over two equally long arrays, with where it happens (for failure messages). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; at: number } {
  assert.equal(a.length, b.length, 'arrays differ in length');
  let diff = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= diff)) {
      diff = d;
      at = i;
    }
  }
  return { diff, at };
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): number {
  const { diff, at } = maxAbsDiff(actual, expected);
  assert.ok(diff <= tol, `${what}: max abs diff ${diff} at ${at} (actual ${actual[at]}, expected ${expected[at]}) exceeds ${tol}`);
  return diff;
}

/** Builds, compiles and runs a plain (no cache) decoder graph; returns logits [batch, seq, vocab]. */
export async function graphLogits(
  config: ModelConfig,
  weights: ReadonlyMap<string, HostTensor>,
  tokens: number[][],
  lora?: LoraWeights,
): Promise<Float32Array> {
  const g = new Graph();
  const params = declareDecoderParams(g, config, weights);
  const inputs = declareDecoderInputs(g, config);
  const targets = lora ? loraTargetsOf(config, [lora]) : undefined;
  const declared = targets ? declareSingleLora(g, config, targets, { scaling: 'fed' }) : undefined;
  g.output('logits', buildDecoderForward(g, config, params, inputs, declared?.wiring).logits);
  const compiled = await compile(g);
  try {
    const feeds: Record<string, TensorData> = { ...stepFeeds({ tokens }) };
    if (lora && targets) Object.assign(feeds, singleLoraFeeds(config, targets, lora, true));
    const out = await compiled.run(feeds);
    return out.logits!.data as Float32Array;
  } finally {
    await compiled.dispose();
  }
}
