import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LlamaModel } from '../model/llama-model';
import { randomCheckpoint, randomLora, randomModelConfig } from '../testing/random-model';
import { randomRouterArtifact } from './random-router';
import { RoutedModel } from './routed-model';
import { ROUTER_KINDS, type RouterKind } from './router-artifact';

const config = randomModelConfig({ vocabSize: 40, eosTokenId: 2 });
const weights = randomCheckpoint(config, 5);
const experts = [
  randomLora(config, { r: 4, seed: 11 }),
  randomLora(config, { r: 2, seed: 12, targetModules: ['q_proj', 'v_proj', 'down_proj'] }),
  randomLora(config, { r: 3, seed: 13 }),
];
const refs = ['a@1', 'b@1', 'c@2'];
const models = new Map<RouterKind, RoutedModel>(
  ROUTER_KINDS.map((kind) => [kind, RoutedModel.create({ config, weights }, randomRouterArtifact(config, { kind, baseModel: 'tiny', expertRefs: refs, experts, seed: 3 }), kind === 'flylora' ? [] : experts)]),
);
const base = LlamaModel.create({ config, weights });
after(async () => {
  for (const m of models.values()) await m.dispose();
  await base.dispose();
});

function argmax(data: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (data[offset + j]! > data[offset + best]!) best = j;
  return best;
}

/** Greedy decoding by recomputing the whole sequence every step, no cache: the reference. */
async function recompute(model: RoutedModel, prompt: readonly number[], steps: number): Promise<number[]> {
  const seq = [...prompt];
  const out: number[] = [];
  const V = config.vocabSize;
  for (let i = 0; i < steps; i++) {
    const logits = await model.forward([seq], { promptLengths: [prompt.length] });
    const next = argmax(logits.data, (seq.length - 1) * V, V);
    out.push(next);
    seq.push(next);
  }
  return out;
}

describe('RoutedModel: KV-cache generation with the gated wirings', () => {
  const prompts = [[1, 7, 9], [1, 4, 30, 12, 5, 8], [3, 3]];
  for (const kind of ROUTER_KINDS) {
    it(`${kind}: greedy, batched, left-padded generation equals a non-cached recompute per prompt`, async () => {
      const model = models.get(kind)!;
      const results = await model.generate(prompts, { maxNewTokens: 7, stopTokenIds: [] });
      for (const [i, p] of prompts.entries()) assert.deepEqual(results[i]!.tokens, await recompute(model, p, 7), `${kind} prompt ${i}`);
      // The router changes the function: its logits are not the base's.
      const routed = await model.forward([prompts[1]!]);
      const plain = await base.forward([prompts[1]!]);
      assert.ok(routed.data.some((v, j) => Math.abs(v - plain.data[j]!) > 1e-3), `${kind} logits equal the base's`);
    });
  }

  it('MeteoRA with line-scope prefix gates: KV-cache generation computes what a recompute that knows the prompt does', async () => {
    // Token 6 is the line break: prompts of one, two and three lines; every third step is forced to a break.
    const artifact = randomRouterArtifact(config, { kind: 'meteora', baseModel: 'tiny', expertRefs: refs, experts, seed: 4, prefix: { lineBreaks: [6] }, scale: 2 });
    const model = RoutedModel.create({ config, weights }, artifact, experts);
    try {
      const lined = [[1, 7, 9], [1, 4, 6, 12, 5, 8], [3, 6, 3, 6, 9]];
      const V = config.vocabSize;
      const seen: Float32Array[][] = lined.map(() => []);
      const results = await model.generate(lined, {
        maxNewTokens: 8,
        stopTokenIds: [],
        onLogits: (row, logits) => {
          seen[row]!.push(Float32Array.from(logits));
          if (seen[row]!.length % 3 === 0) logits[6] = 1e9;
        },
      });
      for (const [i, p] of lined.entries()) {
        const tokens = results[i]!.tokens;
        assert.ok(tokens.filter((t) => t === 6).length >= 2, `row ${i} breaks lines while generating`);
        const all = await model.forward([[...p, ...tokens.slice(0, -1)]], { promptLengths: [p.length] });
        seen[i]!.forEach((logits, step) => {
          const at = (p.length - 1 + step) * V;
          for (let v = 0; v < V; v++) assert.ok(Math.abs(logits[v]! - all.data[at + v]!) < 1e-3, `row ${i} step ${step} token ${v}`);
        });
      }
      // The line scope changes the function: a sequence-scope router with the same gates differs.
      const sequence = RoutedModel.create({ config, weights }, randomRouterArtifact(config, { kind: 'meteora', baseModel: 'tiny', expertRefs: refs, experts, seed: 4, prefix: {}, scale: 2 }), experts);
      const a = await model.forward([lined[2]!], { promptLengths: [3] });
      const b = await sequence.forward([lined[2]!], { promptLengths: [3] });
      await sequence.dispose();
      assert.ok(a.data.some((v, j) => Math.abs(v - b.data[j]!) > 1e-3));
    } finally {
      await model.dispose();
    }
  });

  it('rows that stop early leave the batch without changing the others', async () => {
    const model = models.get('xcross')!;
    const all = await model.generate(prompts, { maxNewTokens: 6, stopTokenIds: [] });
    const cut = await model.generate(prompts, { maxNewTokens: 6, stopTokenIds: [], shouldStop: (row, g) => row === 0 && g.length === 2 });
    assert.deepEqual(cut[0]!.tokens, all[0]!.tokens.slice(0, 2));
    assert.equal(cut[0]!.finishReason, 'callback');
    assert.deepEqual(cut[1]!.tokens, all[1]!.tokens);
    assert.deepEqual(cut[2]!.tokens, all[2]!.tokens);
  });

  it('reports gate statistics per row', async () => {
    const [meteora] = await models.get('meteora')!.generate([prompts[1]!], { maxNewTokens: 4, stopTokenIds: [] });
    const s = meteora!.stats;
    assert.equal(s.strategy, 'meteora');
    assert.equal(s.tokens, prompts[1]!.length + 3); // prompt + the fed-back tokens (the last one is never read)
    assert.ok(Math.abs(s.meanGateWeight!.reduce((a, b) => a + b, 0) - 1) < 1e-4, `weights ${s.meanGateWeight}`);
    assert.equal(s.topKCounts!.reduce((a, b) => a + b, 0), s.tokens * s.gatedModules! * 2);
    const [fly] = await models.get('flylora')!.generate([prompts[0]!], { maxNewTokens: 3, stopTokenIds: [] });
    assert.equal(fly!.stats.blockShare!.length, 3);
    assert.ok(Math.abs(fly!.stats.blockShare!.reduce((a, b) => a + b, 0) - 1) < 1e-6);
    const [x] = await models.get('xcross')!.generate([prompts[0]!], { maxNewTokens: 2, stopTokenIds: [] });
    assert.equal(x!.stats.fusionNorms!.length, config.numLayers);
    assert.ok(x!.stats.fusionNorms!.every((v) => v > 0));
    assert.equal(x!.stats.streamWeights!.length, 3);
  });

  it('refuses experts that do not match the artifact', () => {
    const artifact = models.get('meteora')!.artifact;
    assert.throws(() => RoutedModel.create({ config, weights }, artifact, experts.slice(0, 2)), /names 3 expert adapters/);
    const narrow = [1, 2, 3].map((seed) => randomLora(config, { r: 2, seed, targetModules: ['q_proj'] }));
    assert.throws(() => RoutedModel.create({ config, weights }, artifact, narrow), /was trained on/);
  });
});
