import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { clearSessionCache } from '@palette/gpu-kernels';
import { compile } from '../../src/graph/compile';
import { Graph } from '../../src/graph/graph';
import { tensorData } from '../../src/graph/tensor-data';
import type { TensorData } from '../../src/graph/types';
import { buildDecoderForward } from '../../src/model/decoder';
import { declareDecoderInputs, stepFeeds } from '../../src/model/decoder-inputs';
import { declareDecoderParams } from '../../src/model/decoder-params';
import { loraTargetsOf } from '../../src/model/lora-inputs';
import { declareMeteora, meteoraExpertFeeds, meteoraNames, MeteoraWiring, topKMixingWeights } from '../../src/model/meteora-wiring';
import { referenceForward } from '../../src/reference/llama-reference';
import { labelTaskExamples, trainMeteoraGates, type TaskLabelledSequence } from '../../src/routing/meteora-train';
import { randomCheckpoint, randomLora, randomModelConfig } from '../../src/testing/random-model';
import { Rng } from '../../src/util/rng';
import { assertClose } from '../model/parity-helpers';
import { gradientCheck, randomValues } from './grad-check';

const config = randomModelConfig();
const weights = randomCheckpoint(config, 7);
const TOKENS = [
  [1, 5, 9, 3, 30, 7],
  [4, 0, 31, 12, 6, 19],
];

after(() => clearSessionCache());

/** Plain-TS MeteoRA linear for one token (f64): W0 x + Σ_topk softmax(v/T)_j σ_j B_j A_j x. */
function meteoraLinearReference(
  x: number[], w0: number[], gate: number[], A: number[], B: number[], scaling: number[],
  dims: { inF: number; outF: number; n: number; r: number }, k: number, T: number,
): number[] {
  const { inF, outF, n, r } = dims;
  const s = Array.from({ length: n }, (_, j) => x.reduce((acc, xi, c) => acc + xi * gate[j * inF + c]!, 0));
  const order = s.map((v, j) => [v, j] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k);
  const mx = Math.max(...order.map(([v]) => v));
  const e = order.map(([v]) => Math.exp((v - mx) / T));
  const z = e.reduce((a, b) => a + b, 0);
  const y = Array.from({ length: outF }, (_, o) => x.reduce((acc, xi, c) => acc + xi * w0[o * inF + c]!, 0));
  order.forEach(([, j], slot) => {
    const wj = e[slot]! / z;
    const ax = Array.from({ length: r }, (_, q) => x.reduce((acc, xi, c) => acc + xi * A[(j * r + q) * inF + c]!, 0));
    for (let o = 0; o < outF; o++) {
      let d = 0;
      for (let q = 0; q < r; q++) d += B[(j * outF + o) * r + q]! * ax[q]!;
      y[o]! += wj * scaling[j]! * d;
    }
  });
  return y;
}

describe('MeteoRA wiring', () => {
  it('top-k mixing weights: softmax over the k largest logits (+bias, /T), zero elsewhere', async () => {
    const g = new Graph();
    const logits = g.input('logits', 'float32', [3, 5]);
    const bias = g.input('bias', 'float32', [5]);
    g.output('w', topKMixingWeights(g, logits, 2, 0.5, bias));
    const values = [0.1, 2, -1, 1.5, 0.3, /**/ -3, -2, -1, 0, 1, /**/ 5, 5.5, -5, 0, 0.2];
    const biasValues = [0, 0, 0, 0, 10];
    const compiled = await compile(g);
    const out = (await compiled.run({ logits: tensorData('float32', [3, 5], values), bias: tensorData('float32', [5], biasValues) })).w!.data as Float32Array;
    await compiled.dispose();
    for (let row = 0; row < 3; row++) {
      const scores = values.slice(row * 5, row * 5 + 5).map((v, j) => v + biasValues[j]!);
      const top = scores.map((v, j) => [v, j] as const).sort((a, b) => b[0] - a[0]).slice(0, 2);
      const e = top.map(([v]) => Math.exp((v - top[0]![0]) / 0.5));
      const expected = new Array<number>(5).fill(0);
      top.forEach(([, j], i) => (expected[j] = e[i]! / (e[0]! + e[1]!)));
      assertClose(out.subarray(row * 5, row * 5 + 5), expected, 1e-6, `row ${row}`);
      // Exactly k non-zero weights, at the top-k experts.
      assert.deepEqual([...out.subarray(row * 5, row * 5 + 5)].map((v, j) => (v > 0 ? j : -1)).filter((j) => j >= 0).sort(), top.map(([, j]) => j).sort());
    }
  });

  it('one linear: forward equals a plain-TS reference, and dLoss/dW_g matches central finite differences (f64)', async () => {
    const inF = 6, outF = 5, n = 4, r = 2, k = 2, T = 1.5;
    const rng = new Rng(3);
    const w0 = randomValues(rng, outF * inF, 0.4);
    const A = randomValues(rng, n * r * inF, 0.5);
    const B = randomValues(rng, n * outF * r, 0.5);
    const scaling = [0.5, 1, 2, 1.5];
    const x = randomValues(rng, 2 * 3 * inF, 1);
    const gate = randomValues(rng, n * inF, 0.8);
    const build = (g: Graph): { out: import('../../src/graph/value').Value; aux: import('../../src/graph/value').Value } => {
      const xv = g.input('x', 'float64', [2, 3, inF]);
      const w = g.constant(tensorData('float64', [outF, inF], w0));
      const wiring = new MeteoraWiring(
        new Map([['m', { gate: g.input('gate', 'float64', [n, inF]), A: g.constant(tensorData('float64', [n, r, inF], A)), B: g.constant(tensorData('float64', [n, outF, r], B)), scaling: g.constant(tensorData('float64', [n], scaling)) }]]),
        { topK: k, temperature: T },
      );
      const out = wiring.adaptLinear(g, { path: 'm', layer: 0, module: 'q_proj', inFeatures: inF, outFeatures: outF }, xv, g.matmul(xv, w, { transB: true }));
      return { out, aux: wiring.gateRecords[0]!.logits };
    };
    const result = await gradientCheck({
      build: (g) => {
        const { out, aux } = build(g);
        return { outputs: [out, aux], wrt: ['gate'] };
      },
      feeds: { x: tensorData('float64', [2, 3, inF], x), gate: tensorData('float64', [n, inF], gate) },
      seed: 4,
    });
    // Forward vs the plain-TS reference, token by token.
    const y = result.forward[0]!;
    for (let t = 0; t < 6; t++) {
      const expected = meteoraLinearReference(x.slice(t * inF, (t + 1) * inF), w0, gate, A, B, scaling, { inF, outF, n, r }, k, T);
      assertClose(y.subarray(t * outF, (t + 1) * outF), expected, 1e-12, `token ${t}`);
    }
    assert.ok(result.checked === n * inF && result.maxError < 1e-7, `gate gradient error ${result.maxError} over ${result.checked} entries`);
  });

  it('gate pinned to one expert (offset +1e4, k = 2): the decoder equals that expert alone (reference forward)', async () => {
    const experts = [1, 2, 3].map((seed) => randomLora(config, { r: 2, alpha: 4, seed, targetModules: seed === 3 ? ['q_proj', 'down_proj'] : undefined }));
    const targets = loraTargetsOf(config, experts);
    const g = new Graph();
    const params = declareDecoderParams(g, config, weights);
    const inputs = declareDecoderInputs(g, config);
    const meteora = declareMeteora(g, config, targets, { experts: 3, topK: 2, expertBias: true });
    g.output('logits', buildDecoderForward(g, config, params, inputs, meteora.wiring).logits);
    const compiled = await compile(g);
    try {
      const rng = new Rng(9);
      const gateFeeds: Record<string, TensorData> = {};
      for (const p of targets.paths) {
        const inF = meteora.wiring.modules.get(p)!.gate.shape[1] as number;
        gateFeeds[meteoraNames.gate(p)] = tensorData('float32', [3, inF], randomValues(rng, 3 * inF, 1));
      }
      for (const pinned of [0, 2]) {
        const bias = [0, 0, 0];
        bias[pinned] = 1e4;
        const feeds = { ...stepFeeds({ tokens: TOKENS }), ...meteoraExpertFeeds(config, targets, experts), ...gateFeeds, [meteoraNames.expertBias]: tensorData('float32', [3], bias) };
        const out = (await compiled.run(feeds)).logits!.data as Float32Array;
        assertClose(out, referenceForward(config, weights, TOKENS, { lora: experts[pinned] }).data, 1e-4, `pinned expert ${pinned}`);
      }
    } finally {
      await compiled.dispose();
    }
  });

  it('training: gates learn to route two synthetic tasks (held-out per-token gate accuracy > 90%)', async () => {
    // Task 0 rows draw tokens from 4..16, task 1 rows from 18..31, each after BOS and a task marker
    // (3 or 17). Labels start after the marker: the gate at BOS cannot know the task yet.
    const makeRows = (seed: number, count: number): TaskLabelledSequence[] => {
      const rng = new Rng(seed);
      return Array.from({ length: count }, (_, i) => {
        const task = i % 2;
        const ids = [1, task === 0 ? 3 : 17, ...Array.from({ length: 6 }, () => (task === 0 ? 4 + rng.int(13) : 18 + rng.int(14)))];
        return { ids, lossMask: ids.map((_, t) => (t >= 2 ? 1 : 0)), taskLabels: ids.map((_, t) => (t >= 2 ? task : -1)) };
      });
    };
    const experts = [11, 12].map((seed, j) => ({ ref: `task-${j}@1`, weights: randomLora(config, { r: 2, seed }) }));
    const progress: number[] = [];
    const result = await trainMeteoraGates({
      config, weights, baseModel: 'tiny@1', experts,
      train: makeRows(1, 48), eval: makeRows(2, 32),
      batchSize: 16, steps: 100, lr: 0.05, seed: 5,
      onProgress: (e) => progress.push(e.metrics.gateLoss!),
    });
    assert.equal(result.status, 'completed');
    assert.equal(progress.length, 100);
    assert.ok(progress.at(-1)! < progress[0]! / 2, `gate loss ${progress[0]} → ${progress.at(-1)}`);
    const ev = result.evaluation!;
    assert.ok(ev.meanAccuracy > 0.9, `mean per-token gate accuracy ${ev.meanAccuracy}`);
    assert.ok(ev.minAccuracy > 0.85, `worst module's gate accuracy ${ev.minAccuracy}`);
    assert.equal(ev.modules.length, 14);
    assert.equal(result.artifact.manifest.kind, 'meteora');
    assert.deepEqual(result.artifact.manifest.experts, ['task-0@1', 'task-1@1']);
    assert.equal(result.artifact.manifest.metrics.evalGateAccuracy, ev.meanAccuracy);
  });

  it('labelTaskExamples labels every token with its task index', () => {
    const tokenizer = { encode: (s: string) => [...s].map((c) => c.charCodeAt(0) % 30 + 2), decode: () => '', bosTokenId: 1, eosTokenId: 0 };
    const rows = labelTaskExamples(tokenizer, [[{ prompt: 'ab', completion: 'c' }], [{ text: 'xyz' }]]);
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0]!.taskLabels, [0, 0, 0, 0, 0]);
    assert.deepEqual(rows[0]!.lossMask, [0, 0, 0, 1, 1]);
    assert.deepEqual(rows[1]!.taskLabels, [1, 1, 1, 1, 1]);
  });
});
