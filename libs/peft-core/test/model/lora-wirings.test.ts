import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { referenceForward } from '../../src/reference/llama-reference';
import { randomCheckpoint, randomLora, randomModelConfig } from '../../src/testing/random-model';
import { mergeIntoBase } from '../../src/lora/merge';
import { hostTensor, type HostTensor } from '../../src/tensor/host-tensor';
import { LlamaModel } from '../../src/model/llama-model';
import { planLora } from '../../src/model/lora-plan';
import { PeftCoreError } from '../../src/errors';
import { assertClose } from './parity-helpers';

const TOL = 1e-4;
const config = randomModelConfig({ hiddenSize: 32, numHeads: 4, numKvHeads: 2, intermediateSize: 48, vocabSize: 40 });
const weights = randomCheckpoint(config, 31);
const model = LlamaModel.create({ config, weights });
after(() => model.dispose());

const TOKENS = [
  [1, 5, 9, 3, 30, 7],
  [4, 0, 31, 12, 6, 19],
  [8, 8, 2, 17, 25, 1],
  [39, 14, 3, 3, 10, 5],
];
// Four adapters of different ranks and target sets (so the pool pads ranks and zero-fills modules).
const ADAPTERS = [
  randomLora(config, { r: 1, seed: 1, targetModules: ['q_proj', 'v_proj'] }),
  randomLora(config, { r: 2, alpha: 4, seed: 2 }),
  randomLora(config, { r: 4, alpha: 16, seed: 3, targetModules: ['o_proj', 'gate_proj', 'up_proj', 'down_proj'] }),
  randomLora(config, { r: 8, alpha: 8, seed: 4, useRslora: true, targetModules: ['k_proj', 'down_proj'], layers: [1] }),
];

function rowOf(t: HostTensor, b: number): Float32Array {
  const size = t.shape[1]! * t.shape[2]!;
  return t.data.subarray(b * size, (b + 1) * size);
}

describe('LoRA wirings', () => {
  it('pool: 4 rows × 4 adapters of different ranks equal 4 separate single-adapter forwards', async () => {
    const pooled = await model.forward(TOKENS, { lora: ADAPTERS });
    for (const [b, adapter] of ADAPTERS.entries()) {
      const single = await model.forward([TOKENS[b]!], { lora: adapter });
      assertClose(rowOf(pooled, b), single.data, TOL, `row ${b} pool vs single`);
      assertClose(rowOf(pooled, b), referenceForward(config, weights, [TOKENS[b]!], { lora: adapter }).data, TOL, `row ${b} pool vs reference`);
    }
  });

  it('pool: rows without an adapter get the base model, and adapters may repeat across rows', async () => {
    const selection = [ADAPTERS[1], undefined, ADAPTERS[1], ADAPTERS[3]];
    const pooled = await model.forward(TOKENS, { lora: selection });
    const expected = referenceForward(config, weights, TOKENS, { lora: selection });
    assertClose(pooled.data, expected.data, TOL, 'mixed pool');
  });

  it('pool, dense strategy (8 rows sharing 2 adapters): matches the reference per row', async () => {
    const rows = [...TOKENS, ...TOKENS.map((r) => [...r].reverse())];
    const selection = [ADAPTERS[0], ADAPTERS[2], undefined, ADAPTERS[2], ADAPTERS[0], ADAPTERS[0], undefined, ADAPTERS[2]];
    const plan = planLora(config, selection, rows.length);
    assert.equal(plan.kind === 'pool' ? plan.strategy : plan.kind, 'dense');
    const pooled = await model.forward(rows, { lora: selection });
    assertClose(pooled.data, referenceForward(config, weights, rows, { lora: selection }).data, TOL, 'dense pool');
  });

  it('switching adapters never recompiles: one graph per wiring and target set', async () => {
    await model.forward(TOKENS, { lora: ADAPTERS });
    await model.forward([TOKENS[0]!], { lora: ADAPTERS[1] });
    const before = model.compileCount;
    await model.forward(TOKENS, { lora: [ADAPTERS[3], ADAPTERS[2], ADAPTERS[1], ADAPTERS[0]] });
    await model.forward(TOKENS, { lora: [randomLora(config, { r: 3, seed: 9 }), ADAPTERS[2], undefined, ADAPTERS[0]] });
    // Same target modules, different ranks and scalings: the single-adapter graph is reused too.
    await model.forward([TOKENS[0]!], { lora: randomLora(config, { r: 2, seed: 10 }) });
    await model.forward([TOKENS[0]!], { lora: randomLora(config, { r: 6, alpha: 3, seed: 11 }) });
    assert.equal(model.compileCount, before);
    // A new target set is a new graph (once).
    await model.forward([TOKENS[0]!], { lora: randomLora(config, { r: 1, seed: 13, targetModules: ['up_proj'] }) });
    await model.forward([TOKENS[1]!], { lora: randomLora(config, { r: 5, seed: 12, targetModules: ['up_proj'] }) });
    assert.equal(model.compileCount, before + 1);
  });

  it('batched generation with one adapter per row equals generating each row alone', async () => {
    const prompts = [[1, 5, 9], [1, 30, 2, 7, 7], [1, 4], [1, 12, 13, 14]];
    const batched = await model.generate(prompts, { maxNewTokens: 5, stopTokenIds: [], lora: ADAPTERS });
    for (const [b, prompt] of prompts.entries()) {
      const alone = await model.generate(prompt, { maxNewTokens: 5, stopTokenIds: [], lora: ADAPTERS[b] });
      assert.deepEqual(batched[b]!.tokens, alone.tokens, `row ${b}`);
    }
  });

  it('merged weights give the logits of base + unmerged adapter', async () => {
    const adapter = ADAPTERS[1]!;
    const merged = new Map(weights);
    for (const module of adapter.modules.values()) {
      const w = weights.get(`${module.path}.weight`)!;
      const copy = hostTensor(w.shape, w.data.slice());
      mergeIntoBase(copy.data, module);
      merged.set(`${module.path}.weight`, copy);
    }
    const mergedModel = LlamaModel.create({ config, weights: merged });
    try {
      const unmerged = await model.forward(TOKENS, { lora: adapter });
      const folded = await mergedModel.forward(TOKENS);
      assertClose(folded.data, unmerged.data, TOL, 'merged vs unmerged');
    } finally {
      await mergedModel.dispose();
    }
  });

  it('feeding base weights as inputs computes the same logits as baked initializers', async () => {
    const fed = LlamaModel.create({ config, weights }, { baseWeights: 'inputs' });
    try {
      const a = await fed.forward(TOKENS, { lora: ADAPTERS });
      const b = await model.forward(TOKENS, { lora: ADAPTERS });
      assertClose(a.data, b.data, 1e-5, 'inputs vs initializers');
    } finally {
      await fed.dispose();
    }
  });

  it('refuses DoRA adapters and adapters for modules the decoder lacks, naming the module', async () => {
    const dora = randomLora(config, { r: 2, seed: 5, targetModules: ['q_proj'], doraBase: weights });
    await assert.rejects(model.forward([TOKENS[0]!], { lora: dora }), (e: unknown) => e instanceof PeftCoreError && e.code === 'UNSUPPORTED' && /DoRA/.test(e.message));
    const wrongShape = randomLora(randomModelConfig({ hiddenSize: 24, headDim: 6 }), { r: 2, seed: 6, targetModules: ['q_proj'] });
    await assert.rejects(model.forward([TOKENS[0]!], { lora: wrongShape }), (e: unknown) => e instanceof PeftCoreError && e.code === 'ADAPTER_INCOMPATIBLE');
  });
});
