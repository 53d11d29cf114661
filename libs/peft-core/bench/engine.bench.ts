/**
 * `npm run bench:engine`: one table of the compute engine's throughput on this machine.
 *
 * - peak: onnxruntime's float32 MatMul GFLOP/s, best run of the best of 1024², 1536², 2048² with the
 *   session settings the models use (the yardstick; see gpu-kernels matmulPeakGflops);
 * - per model (~10M and ~100M-parameter Llama configs, random weights), batch 4 × 128 tokens, the
 *   same batch for forward and training:
 *   forward tokens/s (LlamaModel.forward: base model, logits at every position);
 *   LoRA-training tokens/s (TrainingGraph, r = 16 on all seven projections: loss + gradients of A/B,
 *   optimizer excluded — it is a few µs of TS per LoRA tensor);
 *   step/forward time ratio (goal ≤ 2.5), in wall time and in process CPU time (all threads);
 *   achieved FLOP/s as a fraction of peak (goal ≥ 0.4 for ~100M), forward and training;
 *   decode tokens/s at batch 1 and 32 (LlamaModel.generate, 16-token prompts, 32 new tokens, prefill
 *   included).
 * Steady state: warm-up runs first (memory planning, pre-packing), then forward and step alternate
 * for ROUNDS rounds and each figure is the median, so a burst of load from another process hits
 * both sides alike.
 *
 * FLOP convention (matmul FLOPs of the dense layers, P = every weight except the embedding lookup,
 * T = tokens): forward 2·P·T; LoRA step 4·P·T (forward plus the activation gradient through every
 * frozen matmul; frozen weights get no weight gradient). Attention score/context matmuls and the
 * LoRA factors' own FLOPs are not counted, so both fractions are slight under-estimates.
 * Set BENCH_QUICK=1 to run only the ~10M model.
 */
import { matmulPeakGflops, MatmulProbe } from '@palette/gpu-kernels';
import type { ModelConfig } from '../src/formats/model-config';
import { loraScaling } from '../src/lora/delta';
import { LlamaModel } from '../src/model/llama-model';
import type { HostTensor } from '../src/tensor/host-tensor';
import { randomCheckpoint } from '../src/testing/random-model';
import { collate, type TokenizedExample } from '../src/train/data';
import { targetModulePaths } from '../src/train/lora-setup';
import { TrainingGraph } from '../src/train/train-graph';
import { Rng } from '../src/util/rng';
import { BENCH_BATCH, BENCH_MODELS, BENCH_RANK, BENCH_SEQ } from './bench-models';

const WARMUP = 2;
const ROUNDS = 7;
const DECODE_RUNS = 3;
const PROMPT = 16;
const NEW_TOKENS = 32;

interface Row {
  name: string;
  params: number;
  forwardTokS: number;
  trainTokS: number;
  ratio: number;
  /** The same ratio in process CPU time (all threads): less sensitive to other processes taking the cores. */
  cpuRatio: number;
  /** Achieved GFLOP/s (fractions are taken against the run's final peak). */
  forwardGflops: number;
  trainGflops: number;
  decode1: number;
  decode32: number;
}

function countParams(weights: ReadonlyMap<string, HostTensor>, skipEmbedding: boolean): number {
  let n = 0;
  for (const [name, t] of weights) if (!(skipEmbedding && name === 'model.embed_tokens.weight')) n += t.data.length;
  return n;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Timing {
  wall: number;
  cpu: number;
}

/** Wall-clock and process CPU seconds (user + system, every thread) of one call. */
async function timed(f: () => Promise<unknown>): Promise<Timing> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await f();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
}

async function seconds(f: () => Promise<unknown>): Promise<number> {
  return (await timed(f)).wall;
}

/**
 * Warm-up runs of each, then alternating timed rounds; medians of wall and CPU seconds. Each round
 * also samples the MatMul peak, so the yardstick is measured under the same conditions as the
 * workloads.
 */
async function interleavedMedians(fs: readonly (() => Promise<unknown>)[], probe: MatmulProbe): Promise<Timing[]> {
  for (const f of fs) for (let i = 0; i < WARMUP; i++) await f();
  const times = fs.map(() => [] as Timing[]);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, f] of fs.entries()) times[i]!.push(await timed(f));
    await probe.sample();
  }
  return times.map((ts) => ({ wall: median(ts.map((t) => t.wall)), cpu: median(ts.map((t) => t.cpu)) }));
}

async function benchModel(name: string, config: ModelConfig, probe: MatmulProbe): Promise<Row> {
  const weights = randomCheckpoint(config, 1);
  const P = countParams(weights, true);
  const rng = new Rng(7);
  const tokens = Array.from({ length: BENCH_BATCH }, () => Array.from({ length: BENCH_SEQ }, () => rng.int(config.vocabSize)));
  const T = BENCH_BATCH * BENCH_SEQ;

  const model = LlamaModel.create({ config, weights });
  const modules = targetModulePaths(config, { r: BENCH_RANK, alpha: 2 * BENCH_RANK, targetModules: 'all-linear', init: 'gaussian' });
  const graph = await TrainingGraph.compile({ config, base: weights, trainable: { kind: 'lora', modules, rank: BENCH_RANK, scaling: loraScaling(2 * BENCH_RANK, BENCH_RANK) }, batchSize: BENCH_BATCH, seqLen: BENCH_SEQ });
  const params = new Map<string, Float32Array>();
  for (const [pname, shape] of graph.shapes) params.set(pname, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (pname.endsWith('lora_B.weight') ? 0.01 : 0.05) * rng.normal()));
  const rows: TokenizedExample[] = tokens.map((ids) => ({ ids, lossMask: ids.map((_, t) => (t === 0 ? 0 : 1)) }));
  const batch = collate(rows, BENCH_SEQ, 0);
  const [forward, step] = (await interleavedMedians([() => model.forward(tokens), () => graph.run(batch, params)], probe)) as [Timing, Timing];
  const forwardS = forward.wall;
  const stepS = step.wall;
  await graph.dispose();

  const decode = async (n: number): Promise<number> => {
    const prompts = Array.from({ length: n }, () => Array.from({ length: PROMPT }, () => 1 + rng.int(config.vocabSize - 1)));
    const run = (): Promise<unknown> => model.generate(prompts, { maxNewTokens: NEW_TOKENS, temperature: 0, stopTokenIds: [] });
    await run();
    const times: number[] = [];
    for (let i = 0; i < DECODE_RUNS; i++) times.push(await seconds(run));
    return (n * NEW_TOKENS) / median(times);
  };
  const decode1 = await decode(1);
  const decode32 = await decode(32);
  await model.dispose();

  return {
    name,
    params: countParams(weights, false),
    forwardTokS: T / forwardS,
    trainTokS: T / stepS,
    ratio: stepS / forwardS,
    cpuRatio: step.cpu / forward.cpu,
    forwardGflops: (2 * P * T) / forwardS / 1e9,
    trainGflops: (4 * P * T) / stepS / 1e9,
    decode1,
    decode32,
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const sweep = await matmulPeakGflops({ sizes: [1024, 1536, 2048], iterations: 5 });
  // The best size keeps being sampled between the models' rounds; the peak is the best of all samples.
  const probe = await MatmulProbe.open(sweep.size);
  const rows: Row[] = [];
  for (const m of process.env.BENCH_QUICK ? BENCH_MODELS.slice(0, 1) : BENCH_MODELS) {
    rows.push(await benchModel(m.name, m.config, probe));
    process.stderr.write(`  benchmarked ${m.name} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  for (let i = 0; i < 5; i++) await probe.sample();
  await probe.dispose();
  const peak = Math.max(sweep.gflops, probe.best);
  const header = ['model', 'params', 'fwd tok/s', 'train tok/s', 'step/fwd', 'step/fwd CPU', 'fwd FLOP/peak', 'train FLOP/peak', 'decode b1 tok/s', 'decode b32 tok/s'];
  const cells = rows.map((r) => [
    r.name,
    `${(r.params / 1e6).toFixed(1)}M`,
    r.forwardTokS.toFixed(0),
    r.trainTokS.toFixed(0),
    `${r.ratio.toFixed(2)} (goal ≤ 2.5)`,
    r.cpuRatio.toFixed(2),
    (r.forwardGflops / peak).toFixed(2),
    `${(r.trainGflops / peak).toFixed(2)}${r.name === '~100M' ? ' (goal ≥ 0.4)' : ''}`,
    r.decode1.toFixed(1),
    r.decode32.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]): string => `| ${c.map((s, i) => s.padEnd(widths[i]!)).join(' | ')} |`;
  const sizes = sweep.bySize.map((s) => `${s.size}²: ${s.gflops.toFixed(1)}`).join(', ');
  console.log(`\nengine benchmark — onnxruntime CPU, default session settings; MatMul peak ${peak.toFixed(1)} GFLOP/s at ${sweep.size}²`);
  console.log(`  (peak = best single run: sweep of 5 runs per size [${sizes}], then ${sweep.size}² resampled once per timed round and 5× at the end)`);
  console.log(`batch ${BENCH_BATCH}×${BENCH_SEQ} tokens for forward and training (medians of ${ROUNDS} alternating rounds after ${WARMUP} warm-ups); LoRA r=${BENCH_RANK} all-linear`);
  console.log(`FLOPs: forward 2·P·T, LoRA step 4·P·T (P excludes the embedding lookup); decode: ${PROMPT}-token prompts, ${NEW_TOKENS} new tokens, prefill included, median of ${DECODE_RUNS}`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
