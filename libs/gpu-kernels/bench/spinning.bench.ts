/**
 * Does onnxruntime's intra-op spinning help or hurt when several sessions share the process?
 * A decode-like workload (a chain of [rows, n]·[n, n] MatMuls with initializer weights) runs on K
 * sessions of different graphs, either one session alone or round-robin over K (as a server does
 * when it alternates prefill and decode graphs, or several LoRA wirings). Reports ms per run with
 * `allowSpinning` on and off. Usage:
 *   node tools/run-ts.js libs/gpu-kernels/bench/spinning.bench.ts [rows=32] [n=768] [layers=12]
 */
import { clearSessionCache, createSession, encodeModel, kernelTensor, KernelSession, OnnxNodeSpec, rawBytes } from '../src';

function chainModel(name: string, rows: number, n: number, layers: number): Uint8Array {
  const nodes: OnnxNodeSpec[] = Array.from({ length: layers }, (_, l) => ({ opType: 'MatMul', inputs: [l === 0 ? 'x' : `h${l}`, `w${l}`], outputs: [l === layers - 1 ? 'y' : `h${l + 1}`] }));
  const initializers = Array.from({ length: layers }, (_, l) => {
    const w = kernelTensor('float32', [n, n]);
    for (let i = 0; i < w.data.length; i++) w.data[i] = ((((i + l) * 7919) % 1000) - 500) / 5e5;
    return { name: `w${l}`, elemType: 'float32' as const, dims: [n, n], raw: rawBytes(w.data) };
  });
  return encodeModel({
    graphName: name,
    nodes,
    inputs: [{ name: 'x', elemType: 'float32', dims: [rows, n] }],
    outputs: [{ name: 'y', elemType: 'float32', dims: [rows, n] }],
    initializers,
    opsets: { '': 18 },
  });
}

async function msPerRun(sessions: readonly KernelSession[], runs: number, rows: number, n: number): Promise<number> {
  const x = kernelTensor('float32', [rows, n], Array.from({ length: rows * n }, (_, i) => (i % 7) / 7));
  for (const s of sessions) await s.run({ x });
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await sessions[i % sessions.length]!.run({ x });
  return (performance.now() - t0) / runs;
}

async function main(): Promise<void> {
  const rows = Number(process.argv[2] ?? 32);
  const n = Number(process.argv[3] ?? 768);
  const layers = Number(process.argv[4] ?? 12);
  const runs = 60;
  const models = Array.from({ length: 4 }, (_, k) => chainModel(`chain${k}`, rows, n, layers));
  console.log(`chain of ${layers} × [${rows}, ${n}]·[${n}, ${n}] MatMuls, ${runs} runs per case (ms per run, lower is better)`);
  console.log('| sessions (round-robin) | spinning on | spinning off |');
  console.log('|---|---|---|');
  for (const k of [1, 2, 4]) {
    const cells: string[] = [];
    for (const allowSpinning of [true, false]) {
      const sessions = await Promise.all(models.slice(0, k).map((m) => createSession(m, { allowSpinning })));
      cells.push((await msPerRun(sessions, runs, rows, n)).toFixed(2));
      await clearSessionCache();
    }
    console.log(`| ${k} | ${cells.join(' | ')} |`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
