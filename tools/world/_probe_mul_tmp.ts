// Scratch probe (not committed): multiply-digit variants on the committed base.
import { Trainer, defineTask, generateSplit, loadCheckpoint, LlamaModel, loraTrainingExamples, taskSeed, type WorldTask } from '@palette/peft-core';
import { loadTokenizerDir } from '@palette/peft-core/cli/commands';
import { taskAccuracy } from './task-accuracy';
const PAT = /^(0|[1-9]\d{0,2}) ([2-9])$/;
function variant(lsd: boolean): WorldTask {
  return defineTask({
    id: 'multiply-digit', title: 'm', marker: '<', descriptions: ['a', 'b', 'c'], heldOutDescriptions: ['d', 'e'],
    inputSpace: 8000,
    sampleInput: (rng) => `${rng.int(1000)} ${2 + rng.int(8)}`,
    accepts: (s) => PAT.test(s),
    answer: (s) => { const m = PAT.exec(s)!; const p = String(Number(m[1]) * Number(m[2])); return lsd ? [...p].reverse().join('') : p; },
  });
}
async function main() {
  const dir = '.data/world/full/base';
  const ck = await loadCheckpoint(dir); const tok = await loadTokenizerDir(dir);
  const steps = Number(process.env.STEPS ?? 2500);
  for (const lsd of (process.env.VARIANTS ?? 'msd,lsd').split(',').map((v) => v === 'lsd')) {
    const task = variant(lsd);
    const split = generateSplit(task, { seed: 0, train: 7900, eval: 100 });
    const t0 = performance.now();
    const trainer = await Trainer.create({ config: ck.config, weights: ck.weights, tokenizer: tok, train: loraTrainingExamples(task, split),
      options: { mode: 'lora', steps, batchSize: 32, lr: 2e-3, warmupSteps: 20, minLr: 1e-4, seed: taskSeed(task.id, 2), lora: { r: 16, alpha: 32, targetModules: 'all-linear', init: 'peft-default' } } });
    await trainer.train({ onProgress: (e) => { if (e.step % 500 === 0) console.log(lsd ? 'lsd' : 'msd', e.step, e.loss.toFixed(4)); } });
    const lora = trainer.loraWeights();
    const model = LlamaModel.create(ck);
    const acc = await taskAccuracy(model, tok, task, split.eval, { maxNewTokens: 24, batchSize: 50, lora, samplesKept: 4 });
    console.log(`RESULT ${lsd ? 'lsd' : 'msd'} a<1000: ${(acc.accuracy * 100).toFixed(0)}% loss ${trainer.losses.at(-1)?.toFixed(4)} ${((performance.now() - t0) / 1000).toFixed(0)}s`, JSON.stringify(acc.samples));
    await model.dispose(); await trainer.dispose();
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
