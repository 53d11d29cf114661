import { createSession, GraphOptimization, KernelSession, KernelTensor } from '@palette/gpu-kernels';
import type { Graph } from './graph';
import { emitOnnx } from './onnx-emit';

export interface CompileOptions {
  /** 'cpu' (default), 'cuda' or 'webgpu'. */
  device?: string;
  /** Outputs to compute (default: all); the rest of the graph is dropped. */
  outputs?: readonly string[];
  intraOpThreads?: number;
  graphOptimization?: GraphOptimization;
  /** Emit com.microsoft FusedMatMul for transposed float32 matmuls (default true). */
  fusedMatMul?: boolean;
}

/** A graph loaded into a runtime session. */
export interface CompiledGraph {
  /** The emitted ONNX model (for caching in the object store or inspection). */
  readonly model: Uint8Array;
  /** Inputs to feed on every run (inputs the chosen outputs do not need are dropped). */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Readonly<Record<string, KernelTensor>>, outputs?: readonly string[]): Promise<Record<string, KernelTensor>>;
  dispose(): Promise<void>;
}

/** Emits the graph as ONNX and opens a (cached) onnxruntime session for it. */
export async function compile(g: Graph, options: CompileOptions = {}): Promise<CompiledGraph> {
  const emitted = emitOnnx(g, {
    ...(options.outputs ? { outputs: options.outputs } : {}),
    ...(options.fusedMatMul !== undefined ? { fusedMatMul: options.fusedMatMul } : {}),
  });
  const session: KernelSession = await createSession(emitted.bytes, {
    ...(options.device !== undefined ? { device: options.device } : {}),
    ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
    ...(options.graphOptimization !== undefined ? { graphOptimization: options.graphOptimization } : {}),
  });
  return {
    model: emitted.bytes,
    inputNames: emitted.inputNames,
    outputNames: emitted.outputNames,
    run: (feeds, outputs) => session.run(feeds, outputs),
    dispose: () => session.dispose(),
  };
}
