import { kernelTensor } from './kernel-tensor';
import { encodeModel } from './onnx-proto';
import { createSession } from './session';

export interface MatmulPeakOptions {
  /** Square matrix size; default 1024. */
  size?: number;
  /** Timed runs after one warm-up; default 5. The best run is reported. */
  iterations?: number;
  device?: string;
  intraOpThreads?: number;
}

export interface MatmulPeak {
  gflops: number;
  size: number;
  bestSeconds: number;
  device: string;
}

/** The MatMul-only ONNX graph used to measure peak throughput: y = a · b, all [n, n] float32. */
export function matmulModel(size: number): Uint8Array {
  return encodeModel({
    graphName: 'matmul_peak',
    nodes: [{ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
    inputs: [
      { name: 'a', elemType: 'float32', dims: [size, size] },
      { name: 'b', elemType: 'float32', dims: [size, size] },
    ],
    outputs: [{ name: 'y', elemType: 'float32', dims: [size, size] }],
    initializers: [],
    opsets: { '': 18 },
  });
}

/**
 * Measures the float32 MatMul throughput the runtime reaches on this machine: the yardstick the
 * benchmark compares a model's achieved FLOP/s against. 2·n³ flops per run, best of N.
 */
export async function matmulPeakGflops(options: MatmulPeakOptions = {}): Promise<MatmulPeak> {
  const size = options.size ?? 1024;
  const iterations = options.iterations ?? 5;
  const device = options.device ?? 'cpu';
  const session = await createSession(matmulModel(size), {
    device,
    ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
  });
  try {
    const a = kernelTensor('float32', [size, size]);
    const b = kernelTensor('float32', [size, size]);
    for (let i = 0; i < a.data.length; i++) {
      a.data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
      b.data[i] = ((i * 104729) % 1000) / 1000 - 0.5;
    }
    await session.run({ a, b });
    let best = Infinity;
    for (let i = 0; i < iterations; i++) {
      const t0 = process.hrtime.bigint();
      await session.run({ a, b });
      best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
    }
    return { gflops: (2 * size ** 3) / best / 1e9, size, bestSeconds: best, device };
  } finally {
    await session.dispose();
  }
}
