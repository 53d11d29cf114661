// Scratch (to be deleted): gate learning diagnostics.
import * as path from 'node:path';
import { trainMeteoraGates, getWorldTask, loadCheckpoint, readPeftAdapterDir, trainRouter, worldRouterData, labelTaskExamples, maskAmbiguousGateLabels } from '@palette/peft-core';
import { loadTokenizerDir } from '@palette/peft-core/cli/commands';
async function main(): Promise<void> {
  const w = '/tmp/rt2/world';
  const ck = await loadCheckpoint(path.join(w, 'base'));
  const tok = await loadTokenizerDir(path.join(w, 'base'));
  const ids = ['uppercase-word', 'caesar-shift', 'digits-to-words', 'parity'];
  const tasks = ids.map(getWorldTask);
  const experts = [];
  for (const id of ids) experts.push({ ref: `${id}@v1`, weights: (await readPeftAdapterDir(path.join(w, 'adapters', id), ck.config)).weights });
  const data = worldRouterData(tok, tasks, { examplesPerTask: 200, splitSeed: 0, heldOut: 100, seed: 7 });
  const lab = labelTaskExamples(tok, [data.tasks[0]!.slice(0, 2), data.tasks[1]!.slice(0, 1)]);
  const m = maskAmbiguousGateLabels(lab.map((s, i) => ({ ...s, taskLabels: s.taskLabels.map(() => (i < 2 ? 0 : 1)) })));
  for (const r of m) console.log(JSON.stringify(tok.decode(r.ids as number[])), r.ids.map((id) => JSON.stringify(tok.decode([id]))).join(' '), r.taskLabels.join(','));
  const lr = Number(process.argv[2] ?? 0.02);
  const rows = maskAmbiguousGateLabels(data.tasks.flatMap((ex, i) => labelTaskExamples(tok, [ex]).map((s) => ({ ...s, taskLabels: s.taskLabels.map(() => i) }))));
  const held = rows.filter((_, k) => k % 10 === 0); const train = rows.filter((_, k) => k % 10 !== 0);
  const r = await trainMeteoraGates({ config: ck.config, weights: ck.weights, baseModel: 'b', experts, train, eval: held, steps: Number(process.argv[3] ?? 60), lr, batchSize: 16, seed: 1, warmupSteps: 5, topK: 1, padId: tok.eosTokenId ?? 0, prefixGate: process.env.PG === "1",
    onProgress: (e) => { if (e.step % 20 === 0) console.log(e.step, e.loss.toFixed(3), JSON.stringify(e.metrics)); } });
  for (const m of r.evaluation!.modules) console.log(m.path, (m.accuracy * 100).toFixed(1), m.expertUsage.map((u) => u.toFixed(2)).join(' '));
  if (process.argv[4] !== 'all') return;
  const res = await trainRouter({ strategy: 'meteora', config: ck.config, weights: ck.weights, tokenizer: tok, baseModel: 'b', experts, data,
    hyperparameters: { steps: Number(process.argv[3] ?? 60), lr, batchSize: 16, seed: 1, warmupSteps: 5, topK: 1 },
    onProgress: (e) => { if (e.step % 10 === 0) console.log(e.step, e.loss.toFixed(3), JSON.stringify(e.metrics)); } });
  console.log('acc', res.gateAccuracy, res.gateLayerAccuracy);
}
void main();
