import { createSession, KernelSession, KernelTensor, SessionOptions } from '@palette/gpu-kernels';
import type { Graph } from './graph';
import { emitOnnx } from './onnx-emit';

/** Session settings (device, threads, spinning, profiling, ...: see gpu-kernels) plus emission choices. */
export interface CompileOptions extends SessionOptions {
  /** Outputs to compute (default: all); the rest of the graph is dropped. */
  outputs?: readonly string[];
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
  /** Ends an onnxruntime profile (compiled with `profilePrefix`) and returns the trace file's path. */
  endProfiling(): string | undefined;
  dispose(): Promise<void>;
}

/** Emits the graph as ONNX and opens a (cached) onnxruntime session for it. */
export async function compile(g: Graph, options: CompileOptions = {}): Promise<CompiledGraph> {
  const emitted = emitOnnx(g, {
    ...(options.outputs ? { outputs: options.outputs } : {}),
    ...(options.fusedMatMul !== undefined ? { fusedMatMul: options.fusedMatMul } : {}),
  });
  const { outputs: _outputs, fusedMatMul: _fused, ...sessionOptions } = options;
  const session: KernelSession = await createSession(emitted.bytes, sessionOptions);
  return {
    model: emitted.bytes,
    inputNames: emitted.inputNames,
    outputNames: emitted.outputNames,
    run: (feeds, outputs) => session.run(feeds, outputs),
    endProfiling: () => session.endProfiling(),
    dispose: () => session.dispose(),
  };
}
