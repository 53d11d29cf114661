/**
 * Where does a LoRA training step spend its time compared with a forward pass? Compiles the bench's
 * training graph and the base model's forward graph (as LlamaModel.forward builds it) with
 * onnxruntime profiling on, runs the step (forward + loss + backward), the loss-only evaluation
 * (LoRA forward + loss) and the base forward a few times, and prints the kernel time per op type
 * of each and the slowest step nodes (per-node medians over the runs).
 *
 * Usage: node tools/run-ts.js libs/peft-core/bench/profile-train.ts [10M|100M] [runs] [topNodes] [intraOpThreads]
 * (one thread gives steadier per-op figures on a shared machine).
 */
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { compile } from '../src/graph/compile';
import { Graph } from '../src/graph/graph';
import { loraScaling } from '../src/lora/delta';
import { buildDecoderForward } from '../src/model/decoder';
import { declareDecoderInputs, stepFeeds } from '../src/model/decoder-inputs';
import { declareDecoderParams } from '../src/model/decoder-params';
import { randomCheckpoint } from '../src/testing/random-model';
import { collate, type TokenizedExample } from '../src/train/data';
import { targetModulePaths } from '../src/train/lora-setup';
import { TrainingGraph } from '../src/train/train-graph';
import { Rng } from '../src/util/rng';
import { BENCH_MODELS, BENCH_BATCH, BENCH_RANK, BENCH_SEQ } from './bench-models';

interface TraceEvent {
  readonly cat?: string;
  readonly name?: string;
  readonly dur?: number;
  readonly args?: { readonly op_name?: string; readonly input_type_shape?: readonly Record<string, readonly number[]>[] };
}

interface Profile {
  readonly byOp: Map<string, number>;
  readonly byNode: Map<string, number>;
  readonly totalUs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/**
 * Per-node kernel time as the median over the runs (robust to the first run's allocations and to
 * a burst of load from another process), summed per op type.
 */
async function readProfile(file: string): Promise<Profile> {
  const events = JSON.parse(await fsp.readFile(file, 'utf8')) as TraceEvent[];
  const samples = new Map<string, { op: string; durs: number[] }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || e.dur === undefined) continue;
    const op = e.args?.op_name ?? '?';
    const shapes = (e.args?.input_type_shape ?? []).map((t) => `[${Object.values(t)[0]?.join(',') ?? ''}]`).join(' ');
    const node = `${op} ${e.name.slice(0, -'_kernel_time'.length)} ${shapes}`;
    const entry = samples.get(node) ?? { op, durs: [] };
    entry.durs.push(e.dur);
    samples.set(node, entry);
  }
  const byOp = new Map<string, number>();
  const byNode = new Map<string, number>();
  let totalUs = 0;
  for (const [node, { op, durs }] of samples) {
    const us = median(durs);
    byNode.set(node, us);
    byOp.set(op, (byOp.get(op) ?? 0) + us);
    totalUs += us;
  }
  return { byOp, byNode, totalUs };
}

function top(m: Map<string, number>, n: number): [string, number][] {
  return [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);
}

async function main(): Promise<void> {
  const which = process.argv[2] ?? '10M';
  const runs = Number(process.argv[3] ?? 3);
  const topNodes = Number(process.argv[4] ?? 15);
  const threads = process.argv[5] !== undefined ? { intraOpThreads: Number(process.argv[5]) } : {};
  const spec = BENCH_MODELS.find((m) => m.name === `~${which}`);
  if (!spec) throw new Error(`unknown model ${which}; one of ${BENCH_MODELS.map((m) => m.name).join(', ')}`);
  const { config } = spec;
  const weights = randomCheckpoint(config, 1);
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'palette-profile-'));
  const modules = targetModulePaths(config, { r: BENCH_RANK, alpha: 2 * BENCH_RANK, targetModules: 'all-linear', init: 'gaussian' });
  const graph = await TrainingGraph.compile({
    config,
    base: weights,
    trainable: { kind: 'lora', modules, rank: BENCH_RANK, scaling: loraScaling(2 * BENCH_RANK, BENCH_RANK) },
    batchSize: BENCH_BATCH,
    seqLen: BENCH_SEQ,
    session: { profilePrefix: path.join(dir, 'train'), ...threads },
  });
  const rng = new Rng(3);
  const params = new Map<string, Float32Array>();
  for (const [name, shape] of graph.shapes) params.set(name, Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => 0.02 * rng.normal()));
  const rows: TokenizedExample[] = Array.from({ length: BENCH_BATCH }, () => {
    const ids = Array.from({ length: BENCH_SEQ }, () => rng.int(config.vocabSize));
    return { ids, lossMask: ids.map((_, t) => (t === 0 ? 0 : 1)) };
  });
  const batch = collate(rows, BENCH_SEQ, 0);
  const fg = new Graph();
  const fwdOut = buildDecoderForward(fg, config, declareDecoderParams(fg, config, weights), declareDecoderInputs(fg, config));
  fg.output('logits', fwdOut.logits);
  const baseForward = await compile(fg, { profilePrefix: path.join(dir, 'forward_'), ...threads });
  const forwardFeeds = stepFeeds({ tokens: rows.map((r) => r.ids) });
  // Per-run averages include the first run (memory planning); use several runs to dilute it.
  let stepMs = 0;
  let evalMs = 0;
  let baseMs = 0;
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await baseForward.run(forwardFeeds);
    baseMs += (performance.now() - t0) / runs;
    t0 = performance.now();
    await graph.run(batch, params);
    stepMs += (performance.now() - t0) / runs;
    t0 = performance.now();
    await graph.evaluate(batch, params);
    evalMs += (performance.now() - t0) / runs;
  }
  const files = graph.endProfiling();
  const baseFile = baseForward.endProfiling();
  await graph.dispose();
  await baseForward.dispose();
  if (!files.step || !files.evaluate || !baseFile) throw new Error(`no profile written under ${dir}`);
  const step = await readProfile(files.step);
  const fwd = await readProfile(files.evaluate);
  const base = await readProfile(baseFile);
  console.log(`${spec.name}: wall per run (first run included) step ${stepMs.toFixed(1)} ms, LoRA forward+loss ${evalMs.toFixed(1)} ms, base forward ${baseMs.toFixed(1)} ms`);
  console.log(`kernel time per run (sum of per-node medians): step ${(step.totalUs / 1000).toFixed(1)} ms, LoRA forward+loss ${(fwd.totalUs / 1000).toFixed(1)} ms, base forward ${(base.totalUs / 1000).toFixed(1)} ms`);
  console.log('\nop type            step ms  fwd+loss   base fwd');
  const ops = new Set([...step.byOp.keys(), ...fwd.byOp.keys(), ...base.byOp.keys()]);
  const ms = (p: Profile, op: string): string => ((p.byOp.get(op) ?? 0) / 1000).toFixed(2).padStart(8);
  for (const op of [...ops].sort((a, b) => (step.byOp.get(b) ?? 0) - (step.byOp.get(a) ?? 0))) {
    console.log(`${op.padEnd(18)} ${ms(step, op)}  ${ms(fwd, op)}  ${ms(base, op)}`);
  }
  console.log(`\nslowest step nodes:`);
  for (const [node, us] of top(step.byNode, topNodes)) console.log(`${(us / 1000).toFixed(2).padStart(7)} ms  ${node}`);
  await fsp.rm(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
