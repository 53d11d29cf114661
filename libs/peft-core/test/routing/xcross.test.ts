import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { clearSessionCache } from '@palette/gpu-kernels';
import { compile } from '../../src/graph/compile';
import { Graph } from '../../src/graph/graph';
import { tensorData } from '../../src/graph/tensor-data';
import { buildDecoderForward } from '../../src/model/decoder';
import { stepFeeds } from '../../src/model/decoder-inputs';
import { declareDecoderParams } from '../../src/model/decoder-params';
import { loraTargetsOf } from '../../src/model/lora-inputs';
import { declareXCross, declareXCrossDecoderInputs, xcrossAdapterFeeds, xcrossNames, xcrossPairs, xcrossStreamRows, XCrossWiring } from '../../src/model/xcross-wiring';
import { referenceForward } from '../../src/reference/llama-reference';
import { trainXCrossFusion } from '../../src/routing/xcross-train';
import { randomCheckpoint, randomLora, randomModelConfig } from '../../src/testing/random-model';
import { Rng } from '../../src/util/rng';
import { assertClose } from '../model/parity-helpers';
import { gradientCheck, randomValues } from './grad-check';

after(() => clearSessionCache());

/** Plain-TS fusion of one token: h̃_m = h_m + Σ_{m'≠m} [β z_{m,m'} h_{m'} + γ z'_{m,m'} (h_m − h_{m'})]. */
function fuseReference(h: number[][], wCat: number[], beta: number, gamma: number): number[][] {
  const n = h.length;
  const H = h[0]!.length;
  const cat = h.flat();
  const pairs = xcrossPairs(n);
  const z = Array.from({ length: 2 * pairs.length }, (_, i) => cat.reduce((s, v, c) => s + v * wCat[i * n * H + c]!, 0));
  return h.map((hm, m) =>
    hm.map((v, c) => {
      let out = v;
      pairs.forEach(([a, b], p) => {
        if (a !== m) return;
        out += beta * z[p]! * h[b]![c]! + gamma * z[pairs.length + p]! * (v - h[b]![c]!);
      });
      return out;
    }),
  );
}

describe('X-Cross', () => {
  it('fusion + combination: forward equals a plain-TS reference; gradients of W_cat and w match finite differences (f64)', async () => {
    const n = 3, H = 4, rows = 2, seq = 2, beta = 0.7, gamma = 1.3;
    const rng = new Rng(2);
    const hidden = randomValues(rng, n * rows * seq * H, 1); // [rows·n, seq, H], row b·n + m
    const w0 = randomValues(rng, 2 * n * (n - 1) * n * H, 0.3);
    const w1 = randomValues(rng, 2 * n * (n - 1) * n * H, 0.3);
    const streamWeights = [0.2, 0.5, 0.3];
    const result = await gradientCheck({
      build: (g) => {
        const h = g.input('h', 'float64', [n * rows, seq, H]);
        const fusion = [0, 1].map((l) => g.input(`w${l}`, 'float64', [2 * n * (n - 1), n * H]));
        const w = g.input('w', 'float64', [n]);
        const wiring = new XCrossWiring(n, 2, H, new Map(), { fusion, streamWeights: w }, { beta, gamma });
        const mid = wiring.afterLayer(g, 0, h);
        return { outputs: [mid, wiring.afterLayer(g, 1, mid)], wrt: ['w0', 'w1', 'w'] };
      },
      feeds: {
        h: tensorData('float64', [n * rows, seq, H], hidden),
        w0: tensorData('float64', [2 * n * (n - 1), n * H], w0),
        w1: tensorData('float64', [2 * n * (n - 1), n * H], w1),
        w: tensorData('float64', [n], streamWeights),
      },
      seed: 3,
    });
    const at = (data: ArrayLike<number>, row: number, t: number): number[] => Array.from({ length: H }, (_, c) => data[(row * seq + t) * H + c]!);
    for (let b = 0; b < rows; b++) {
      for (let t = 0; t < seq; t++) {
        const streams = Array.from({ length: n }, (_, m) => at(hidden, b * n + m, t));
        const fused0 = fuseReference(streams, w0, beta, gamma);
        fused0.forEach((hm, m) => assertClose(at(result.forward[0]!, b * n + m, t), hm, 1e-12, `layer 0 row ${b} t ${t} stream ${m}`));
        const fused1 = fuseReference(fused0, w1, beta, gamma);
        const combined = Array.from({ length: H }, (_, c) => fused1.reduce((s, hm, m) => s + streamWeights[m]! * hm[c]!, 0));
        assertClose(at(result.forward[1]!, b, t), combined, 1e-12, `combined row ${b} t ${t}`);
      }
    }
    assert.equal(result.checked, 2 * 2 * n * (n - 1) * n * H + n);
    assert.ok(result.maxError < 1e-7, `gradient error ${result.maxError}`);
  });

  it('zero fusion weights and one-hot w: the decoder output equals that stream alone (base + its LoRA)', async () => {
    const config = randomModelConfig();
    const weights = randomCheckpoint(config, 4);
    const adapters = [1, 2, 3].map((seed) => randomLora(config, { r: 2, alpha: 4, seed, targetModules: seed === 2 ? ['v_proj', 'up_proj'] : undefined }));
    const targets = loraTargetsOf(config, adapters);
    const g = new Graph();
    const params = declareDecoderParams(g, config, weights);
    const inputs = declareXCrossDecoderInputs(g, 3);
    const xcross = declareXCross(g, config, targets, { streams: 3 });
    g.output('logits', buildDecoderForward(g, config, params, inputs, xcross.wiring).logits);
    const compiled = await compile(g);
    try {
      const tokens = [[1, 5, 9, 3, 30], [4, 0, 31, 12, 6]];
      const zeros = Object.fromEntries(Array.from({ length: config.numLayers }, (_, l) => [xcrossNames.fusion(l), tensorData('float32', [12, 3 * config.hiddenSize])]));
      for (const stream of [0, 1, 2]) {
        const w = [0, 0, 0];
        w[stream] = 1;
        const feeds = { ...stepFeeds({ tokens: xcrossStreamRows(tokens, 3) }), ...xcrossAdapterFeeds(config, targets, adapters), ...zeros, [xcrossNames.streamWeights]: tensorData('float32', [3], w) };
        const logits = (await compiled.run(feeds)).logits!;
        assert.deepEqual(logits.shape, [2, 5, config.vocabSize]);
        assertClose(logits.data as Float32Array, referenceForward(config, weights, tokens, { lora: adapters[stream] }).data, 1e-4, `stream ${stream}`);
      }
    } finally {
      await compiled.dispose();
    }
  });

  it('training: fusion weights and w learn (loss falls) and the artifact records them', async () => {
    const config = randomModelConfig();
    const weights = randomCheckpoint(config, 5);
    const adapters = [1, 2].map((seed, m) => ({ ref: `domain-${m}@1`, weights: randomLora(config, { r: 2, seed }) }));
    const rng = new Rng(6);
    const train = Array.from({ length: 16 }, () => {
      const start = 3 + rng.int(20);
      const ids = [1, ...Array.from({ length: 6 }, (_, t) => start + t)];
      return { ids, lossMask: ids.map((_, t) => (t > 0 ? 1 : 0)) };
    });
    const result = await trainXCrossFusion({ config, weights, baseModel: 'tiny@1', adapters, train, batchSize: 8, steps: 25, lr: 0.01, seed: 1 });
    const first = result.losses[0]!;
    const last = result.losses.at(-1)!;
    assert.ok(last < first, `loss ${first} → ${last}`);
    assert.equal(result.artifact.manifest.kind, 'xcross');
    assert.deepEqual(result.artifact.tensors.get('layers.0.w_cat')!.shape, [4, 2 * config.hiddenSize]);
    assert.ok(result.artifact.tensors.get('layers.1.w_cat')!.data.some((v) => v !== 0), 'W_cat trained');
  });
});
