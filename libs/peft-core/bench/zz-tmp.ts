import { performance } from 'node:perf_hooks';
import { LlamaModel } from '../src/model/llama-model';
import { randomCheckpoint, randomModelConfig } from '../src/testing/random-model';
(async () => {
  const config = randomModelConfig({ hiddenSize: 768, numLayers: 12, numHeads: 12, numKvHeads: 4, headDim: 64, intermediateSize: 2048, vocabSize: 16384 });
  const weights = randomCheckpoint(config, 1);
  const models = { initializers: LlamaModel.create({ config, weights }), inputs: LlamaModel.create({ config, weights }, { baseWeights: 'inputs' }) };
  const prompts = Array.from({ length: 32 }, (_, b) => Array.from({ length: 32 }, (_, t) => (b * 7 + t * 13) % 16384));
  for (const m of Object.values(models)) await m.generate(prompts, { maxNewTokens: 2, stopTokenIds: [] });
  for (let rep = 0; rep < 2; rep++) {
    for (const [name, m] of Object.entries(models)) {
      let first = 0; let n = 0;
      const t0 = performance.now();
      await m.generate(prompts, { maxNewTokens: 9, stopTokenIds: [], onLogits: () => { if (n++ === 31) first = performance.now(); } });
      const t1 = performance.now();
      console.log(name, 'prefill', ((first - t0) / 1000).toFixed(2), 's; decode', ((32 * 8) / ((t1 - first) / 1000)).toFixed(1), 'tok/s');
    }
  }
})();
