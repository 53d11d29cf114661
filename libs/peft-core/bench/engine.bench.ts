/**
 * `npm run bench:engine`: one table of the compute engine's throughput on this machine.
 *
 * - peak: onnxruntime's float32 MatMul GFLOP/s (1024², best of 5) — the yardstick;
 * - per model (~10M and ~100M-parameter Llama configs, random weights), batch 4 × 128 tokens:
 *   forward tokens/s (LlamaModel.forward, all logits), LoRA-training tokens/s (TrainingGraph, r = 16 on
 *   all seven projections: loss + gradients, optimizer excluded), the step/forward time ratio
 *   (goal ≤ 2.5), achieved FLOP/s as a fraction of peak (goal ≥ 0.4 for ~100M), and decode tokens/s
 *   at batch 1 and 32 (LlamaModel.generate, 16-token prompts, 32 new tokens, prefill included).
 *
 * FLOP convention: forward = 2·P·T, training = 6·P·T ("6·params·tokens-equivalent", as for full
 * training; a LoRA step really does ≈ 4·P·T since frozen weights get no weight gradient), with P
 * the non-embedding-lookup parameter count (all weights except embed_tokens, which is a gather).
 * Set BENCH_QUICK=1 to run only the ~10M model.
 */
import { matmulPeakGflops } from '@palette/gpu-kernels';
import type { ModelConfig } from '../src/formats/model-config';
import { LlamaModel } from '../src/model/llama-model';
import type { HostTensor } from '../src/tensor/host-tensor';
import { randomCheckpoint, randomModelConfig } from '../src/testing/random-model';
import { collate, type TokenizedExample } from '../src/train/data';
import { TrainingGraph } from '../src/train/train-graph';
import { targetModulePaths } from '../src/train/lora-setup';
import { loraScaling } from '../src/lora/delta';
import { Rng } from '../src/util/rng';

const BATCH = 4;
const SEQ = 128;
const RANK = 16;

interface Row {
  name: string;
  params: number;
  forwardTokS: number;
  trainTokS: number;
  ratio: number;
  forwardFrac: number;
  trainFrac: number;
  decode1: number;
  decode32: number;
}

const MODELS: { name: string; config: ModelConfig }[] = [
  { name: '~10M', config: randomModelConfig({ vocabSize: 8192, hiddenSize: 256, intermediateSize: 704, numLayers: 6, numHeads: 8, numKvHeads: 4, headDim: 32, maxPositionEmbeddings: 512 }) },
  { name: '~100M', config: randomModelConfig({ vocabSize: 16384, hiddenSize: 768, intermediateSize: 2048, numLayers: 10, numHeads: 12, numKvHeads: 4, headDim: 64, maxPositionEmbeddings: 512 }) },
];

function countParams(weights: ReadonlyMap<string, HostTensor>, skipEmbedding: boolean): number {
  let n = 0;
  for (const [name, t] of weights) if (!(skipEmbedding && name === 'model.embed_tokens.weight')) n += t.data.length;
  return n;
}

async function best(runs: number, f: () => Promise<unknown>): Promise<number> {
  await f(); // warm-up (first run plans memory)
  let bestSeconds = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await f();
    bestSeconds = Math.min(bestSeconds, (performance.now() - t0) / 1000);
  }
  return bestSeconds;
}

async function benchModel(name: string, config: ModelConfig, peakGflops: number): Promise<Row> {
  const weights = randomCheckpoint(config, 1);
  const P = countParams(weights, true);
  const rng = new Rng(7);
  const tokens = Array.from({ length: BATCH }, () => Array.from({ length: SEQ }, () => rng.int(config.vocabSize)));
  const T = BATCH * SEQ;

  const model = LlamaModel.create({ config, weights });
  const forwardS = await best(2, () => model.forward(tokens));

  const modules = targetModulePaths(config, { r: RANK, alpha: 2 * RANK, targetModules: 'all-linear', init: 'gaussian' });
  const graph = await TrainingGraph.compile({ config, base: weights, trainable: { kind: 'lora', modules, rank: RANK, scaling: loraScaling(2 * RANK, RANK) }, batchSize: BATCH, seqLen: SEQ });
  const params = new Map<string, Float32Array>();
  for (const [pname, shape] of graph.shapes) params.set(pname, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (pname.endsWith('lora_B.weight') ? 0.01 : 0.05) * rng.normal()));
  const rows: TokenizedExample[] = tokens.map((ids) => ({ ids, lossMask: ids.map((_, t) => (t === 0 ? 0 : 1)) }));
  const batch = collate(rows, SEQ, 0);
  const stepS = await best(2, () => graph.run(batch, params));
  await graph.dispose();

  const prompts = (n: number): number[][] => Array.from({ length: n }, () => Array.from({ length: 16 }, () => 1 + rng.int(config.vocabSize - 1)));
  const NEW = 32;
  const decode = async (n: number): Promise<number> => {
    const p = prompts(n);
    const s = await best(1, () => model.generate(p, { maxNewTokens: NEW, temperature: 0, stopTokenIds: [] }));
    return (n * NEW) / s;
  };
  const decode1 = await decode(1);
  const decode32 = await decode(32);
  await model.dispose();

  const forwardFlops = (2 * P * T) / forwardS;
  const trainFlops = (6 * P * T) / stepS;
  return {
    name,
    params: countParams(weights, false),
    forwardTokS: T / forwardS,
    trainTokS: T / stepS,
    ratio: stepS / forwardS,
    forwardFrac: forwardFlops / 1e9 / peakGflops,
    trainFrac: trainFlops / 1e9 / peakGflops,
    decode1,
    decode32,
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const peak = await matmulPeakGflops({ size: 1024, iterations: 5 });
  const rows: Row[] = [];
  for (const m of process.env.BENCH_QUICK ? MODELS.slice(0, 1) : MODELS) {
    rows.push(await benchModel(m.name, m.config, peak.gflops));
    process.stderr.write(`  benchmarked ${m.name} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  const header = ['model', 'params', 'fwd tok/s', 'train tok/s', 'step/fwd', 'fwd FLOP/peak', 'train FLOP/peak', 'decode b1 tok/s', 'decode b32 tok/s'];
  const cells = rows.map((r) => [
    r.name,
    `${(r.params / 1e6).toFixed(1)}M`,
    r.forwardTokS.toFixed(0),
    r.trainTokS.toFixed(0),
    `${r.ratio.toFixed(2)} (goal ≤ 2.5)`,
    r.forwardFrac.toFixed(2),
    `${r.trainFrac.toFixed(2)}${r.name === '~100M' ? ' (goal ≥ 0.4)' : ''}`,
    r.decode1.toFixed(1),
    r.decode32.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => `| ${c.map((s, i) => s.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\nengine benchmark — onnxruntime CPU, MatMul peak ${peak.gflops.toFixed(1)} GFLOP/s (${peak.size}², best of 5); batch ${BATCH}×${SEQ} tokens; LoRA r=${RANK} all-linear`);
  console.log('FLOPs: forward 2·P·T, training 6·P·T-equivalent (P excludes the embedding lookup); decode includes the 16-token prefill');
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
