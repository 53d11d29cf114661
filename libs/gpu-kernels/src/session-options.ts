import type * as ort from 'onnxruntime-node';
import { KernelError } from './kernel-tensor';

export type GraphOptimization = 'disabled' | 'basic' | 'extended' | 'all';

/**
 * The onnxruntime session settings the platform exposes. (onnxruntime-node 1.30 ignores
 * `freeDimensionOverrides` and has no API for sharing initializers between sessions; see README.) Every field is optional; the defaults
 * (DEFAULT_SESSION_SETTINGS) were measured on the 2-core CPU box (see the README's table).
 */
export interface SessionOptions {
  /** 'cpu' (default), 'cuda' or 'webgpu'; must be one of availableDevices(). */
  device?: string;
  /** Threads for one operator; default: onnxruntime's choice (all physical cores). */
  intraOpThreads?: number;
  /** Threads running independent operators in parallel (only with executionMode 'parallel'); default 1. */
  interOpThreads?: number;
  /** 'sequential' (default: one op at a time, each using the intra-op pool) or 'parallel'. */
  executionMode?: 'sequential' | 'parallel';
  /**
   * Whether intra-op worker threads spin (busy-wait) for new work instead of sleeping at once.
   * Default false: a spinning pool keeps burning its cores after every run, so with several
   * sessions in one process (prefill + decode, forward + training, several wirings) the idle ones
   * steal the cores the active one needs. Spinning only pays off for one session alone on a
   * machine that runs many tiny ops back to back.
   */
  allowSpinning?: boolean;
  /** Graph rewrites applied at load; default 'all' (fuses MatMul+Add, Gelu, layer norms, ...). */
  graphOptimization?: GraphOptimization;
  /** Plan activation memory once from the first run's shapes; default true (fixed-shape graphs reuse it). */
  memoryPattern?: boolean;
  /** Keep freed CPU buffers in an arena for reuse across runs; default true. */
  cpuArena?: boolean;
  /** Writes an onnxruntime per-op profile (Chrome trace JSON) whose path starts with this prefix. */
  profilePrefix?: string;
  /**
   * In-memory files for initializers stored as ONNX external data (OnnxTensorSpec.external), by
   * the `location` the model names: the way past protobuf's 2 GiB model limit. onnxruntime-node
   * copies them into each session (measured), so this does not share weights between sessions.
   */
  externalData?: readonly { readonly path: string; readonly data: Uint8Array }[];
}

/** Every setting with the defaults filled in (device excepted: resolved against availability). */
export interface SessionSettings {
  readonly intraOpThreads: number | undefined;
  readonly interOpThreads: number;
  readonly executionMode: 'sequential' | 'parallel';
  readonly allowSpinning: boolean;
  readonly graphOptimization: GraphOptimization;
  readonly memoryPattern: boolean;
  readonly cpuArena: boolean;
  readonly profilePrefix: string | undefined;
  readonly externalData: readonly { readonly path: string; readonly data: Uint8Array }[];
}

export const DEFAULT_SESSION_SETTINGS: SessionSettings = {
  intraOpThreads: undefined,
  interOpThreads: 1,
  executionMode: 'sequential',
  allowSpinning: false,
  graphOptimization: 'all',
  memoryPattern: true,
  cpuArena: true,
  profilePrefix: undefined,
  externalData: [],
};

function positiveInteger(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
    throw new KernelError('SESSION_FAILED', `session option ${name} must be a positive integer, got ${value}`);
  }
}

/** Fills defaults and validates; throws SESSION_FAILED naming the bad option. */
export function resolveSessionSettings(options: SessionOptions): SessionSettings {
  positiveInteger('intraOpThreads', options.intraOpThreads);
  positiveInteger('interOpThreads', options.interOpThreads);
  const d = DEFAULT_SESSION_SETTINGS;
  return {
    intraOpThreads: options.intraOpThreads ?? d.intraOpThreads,
    interOpThreads: options.interOpThreads ?? d.interOpThreads,
    executionMode: options.executionMode ?? d.executionMode,
    allowSpinning: options.allowSpinning ?? d.allowSpinning,
    graphOptimization: options.graphOptimization ?? d.graphOptimization,
    memoryPattern: options.memoryPattern ?? d.memoryPattern,
    cpuArena: options.cpuArena ?? d.cpuArena,
    profilePrefix: options.profilePrefix ?? d.profilePrefix,
    externalData: options.externalData ?? d.externalData,
  };
}

/** A stable string of the settings, for the session cache key. */
export function settingsKey(s: SessionSettings): string {
  return [s.intraOpThreads ?? 'auto', s.interOpThreads, s.executionMode, s.allowSpinning ? 'spin' : 'nospin', s.graphOptimization, s.memoryPattern, s.cpuArena, s.profilePrefix ?? ''].join('|');
}

/** The onnxruntime-node session options for these settings on one execution provider. */
export function toOrtSessionOptions(s: SessionSettings, executionProvider: string): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [executionProvider],
    graphOptimizationLevel: s.graphOptimization,
    interOpNumThreads: s.interOpThreads,
    executionMode: s.executionMode,
    enableMemPattern: s.memoryPattern,
    enableCpuMemArena: s.cpuArena,
    ...(s.intraOpThreads !== undefined ? { intraOpNumThreads: s.intraOpThreads } : {}),
    ...(s.profilePrefix !== undefined ? { enableProfiling: true, profileFilePrefix: s.profilePrefix } : {}),
    ...(s.externalData.length > 0 ? { externalData: s.externalData.map((f) => ({ path: f.path, data: f.data })) } : {}),
    // Session config entries (onnxruntime_session_options_config_keys.h); the Node binding takes
    // them as a nested object of strings, flattened to dotted keys.
    extra: { session: { intra_op: { allow_spinning: s.allowSpinning ? '1' : '0' }, inter_op: { allow_spinning: s.allowSpinning ? '1' : '0' } } },
    logSeverityLevel: 3,
  };
}
