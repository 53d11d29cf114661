/**
 * How should ~400 MB of frozen weights reach onnxruntime? Compares, per run, a chain of
 * [1, n]·[n, n] MatMuls whose weights are (a) initializers inside the model bytes or (b) graph
 * inputs fed on every run. Usage: node tools/run-ts.js libs/gpu-kernels/bench/weights.bench.ts [layers] [n]
 */
import { clearSessionCache, createSession, encodeModel, kernelTensor, KernelTensor, OnnxNodeSpec, rawBytes } from '../src';

async function main(): Promise<void> {
  const layers = Number(process.argv[2] ?? 100);
  const n = Number(process.argv[3] ?? 1024);
  const weights = Array.from({ length: layers }, (_, l) => {
    const w = kernelTensor('float32', [n, n]);
    for (let i = 0; i < w.data.length; i++) w.data[i] = (((i + l) * 7919) % 1000) / 1e6;
    return w;
  });
  const nodes: OnnxNodeSpec[] = weights.map((_, l) => ({ opType: 'MatMul', inputs: [l === 0 ? 'x' : `h${l}`, `w${l}`], outputs: [l === layers - 1 ? 'y' : `h${l + 1}`] }));
  const io = { x: { name: 'x', elemType: 'float32' as const, dims: [1, n] }, y: { name: 'y', elemType: 'float32' as const, dims: [1, n] } };
  const mb = (layers * n * n * 4) / 2 ** 20;
  console.log(`${layers} weights of [${n}, ${n}] float32: ${mb.toFixed(0)} MiB`);
  const x = kernelTensor('float32', [1, n], Array.from({ length: n }, () => 1));

  let t0 = performance.now();
  const embedded = encodeModel({ graphName: 'embedded', nodes, inputs: [io.x], outputs: [io.y], opsets: { '': 18 }, initializers: weights.map((w, l) => ({ name: `w${l}`, elemType: 'float32', dims: [n, n], raw: rawBytes(w.data) })) });
  const encodeMs = performance.now() - t0;
  t0 = performance.now();
  const s1 = await createSession(embedded);
  console.log(`initializers: encode ${encodeMs.toFixed(0)} ms, session load ${(performance.now() - t0).toFixed(0)} ms, run ${(await time(() => s1.run({ x }))).toFixed(2)} ms`);
  await s1.dispose();

  const fedInputs = weights.map((_, l) => ({ name: `w${l}`, elemType: 'float32' as const, dims: [n, n] }));
  const fed = encodeModel({ graphName: 'fed', nodes, inputs: [io.x, ...fedInputs], outputs: [io.y], opsets: { '': 18 }, initializers: [] });
  t0 = performance.now();
  const s2 = await createSession(fed);
  const feeds: Record<string, KernelTensor> = { x };
  weights.forEach((w, l) => (feeds[`w${l}`] = w));
  console.log(`inputs:       session load ${(performance.now() - t0).toFixed(0)} ms, run ${(await time(() => s2.run(feeds))).toFixed(2)} ms`);
  await s2.dispose();
  await clearSessionCache();
}

async function time(run: () => Promise<unknown>): Promise<number> {
  await run();
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await run();
    best = Math.min(best, performance.now() - t);
  }
  return best;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
