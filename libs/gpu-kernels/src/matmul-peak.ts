import { kernelTensor, type KernelTensor } from './kernel-tensor';
import { encodeModel } from './onnx-proto';
import { createSession, type KernelSession } from './session';
import type { SessionOptions } from './session-options';

export interface MatmulPeakOptions {
  /**
   * Square matrix sizes to try; the best is reported. Default [1024, 1536, 2048]: MLAS's float32
   * GEMM is at its best from ~1024² up, and one size alone under-reads the peak when another
   * process takes a core during its few runs.
   */
  sizes?: readonly number[];
  /** Timed runs per size after one warm-up; default 5. The best run is reported. */
  iterations?: number;
  /** Session settings (device, threads, ...): pass the ones the measured models use. */
  session?: SessionOptions;
}

export interface MatmulPeak {
  gflops: number;
  /** The size that reached it. */
  size: number;
  bestSeconds: number;
  device: string;
  /** Best GFLOP/s per size tried. */
  bySize: { size: number; gflops: number }[];
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
 * One open MatMul session at a fixed size, for sampling peak throughput repeatedly (a benchmark
 * interleaves probes with its workloads so a burst of load from another process does not leave
 * the yardstick low). `best` is the highest GFLOP/s seen.
 */
export class MatmulProbe {
  private bestGflops = 0;

  private constructor(
    readonly size: number,
    private readonly session: KernelSession,
    private readonly a: KernelTensor,
    private readonly b: KernelTensor,
  ) {}

  static async open(size: number, session: SessionOptions = {}): Promise<MatmulProbe> {
    const s = await createSession(matmulModel(size), session);
    const a = kernelTensor('float32', [size, size]);
    const b = kernelTensor('float32', [size, size]);
    for (let i = 0; i < a.data.length; i++) {
      a.data[i] = ((i * 7919) % 1000) / 1000 - 0.5;
      b.data[i] = ((i * 104729) % 1000) / 1000 - 0.5;
    }
    await s.run({ a, b }); // warm-up: allocation and thread start
    return new MatmulProbe(size, s, a, b);
  }

  get best(): number {
    return this.bestGflops;
  }

  /** One timed run; returns its GFLOP/s (2·n³ flops). */
  async sample(): Promise<number> {
    const t0 = process.hrtime.bigint();
    await this.session.run({ a: this.a, b: this.b });
    const gflops = (2 * this.size ** 3) / (Number(process.hrtime.bigint() - t0) / 1e9) / 1e9;
    this.bestGflops = Math.max(this.bestGflops, gflops);
    return gflops;
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}

/**
 * Measures the float32 MatMul throughput the runtime reaches on this machine: the yardstick the
 * benchmark compares a model's achieved FLOP/s against. 2·n³ flops per run, best run of the best size.
 */
export async function matmulPeakGflops(options: MatmulPeakOptions = {}): Promise<MatmulPeak> {
  const sizes = options.sizes ?? [1024, 1536, 2048];
  const iterations = options.iterations ?? 5;
  const session = options.session ?? {};
  const bySize: { size: number; gflops: number }[] = [];
  for (const size of sizes) {
    const probe = await MatmulProbe.open(size, session);
    try {
      for (let i = 0; i < iterations; i++) await probe.sample();
      bySize.push({ size, gflops: probe.best });
    } finally {
      await probe.dispose();
    }
  }
  const best = bySize.reduce((a, b) => (b.gflops > a.gflops ? b : a));
  return { gflops: best.gflops, size: best.size, bestSeconds: (2 * best.size ** 3) / (best.gflops * 1e9), device: session.device ?? 'cpu', bySize };
}
