import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { availableDevices, DeviceName, executionProviderFor, isKnownDevice, KNOWN_DEVICES } from './devices';
import { KernelDType, KernelError, KernelTensor, KERNEL_DTYPES, shapeSize } from './kernel-tensor';
import { resolveSessionSettings, SessionOptions, settingsKey, toOrtSessionOptions } from './session-options';

/** A loaded graph ready to run. Obtained from createSession; release with dispose(). */
export interface KernelSession {
  readonly device: DeviceName;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the graph. Feeds must name every input exactly; outputNames picks a subset (default all). */
  run(feeds: Readonly<Record<string, KernelTensor>>, outputNames?: readonly string[]): Promise<Record<string, KernelTensor>>;
  /**
   * Stops profiling (sessions created with `profilePrefix`) and returns the path of the written
   * Chrome-trace JSON; undefined when the session was not profiled.
   */
  endProfiling(): string | undefined;
  /** Drops this handle; the runtime session is released when its last handle is disposed. */
  dispose(): Promise<void>;
}

interface CachedSession {
  readonly ort: Promise<ort.InferenceSession>;
  refs: number;
  readonly profilePrefix: string | undefined;
}

const cache = new Map<string, CachedSession>();

/**
 * Loads an ONNX model on a device. Sessions are cached by the sha256 of the model bytes plus
 * the options, so compiling the same graph twice shares one runtime session.
 */
export async function createSession(model: Uint8Array, options: SessionOptions = {}): Promise<KernelSession> {
  const device = resolveDevice(options.device ?? 'cpu');
  const settings = resolveSessionSettings(options);
  // External data is part of what the session computes with, so it is hashed into the key too.
  const hash = createHash('sha256').update(model);
  for (const f of settings.externalData) hash.update(`|${f.path}|`).update(f.data);
  const key = `${hash.digest('hex')}|${device}|${settingsKey(settings)}`;
  let entry = cache.get(key);
  if (!entry) {
    const created: CachedSession = {
      ort: ort.InferenceSession.create(model, toOrtSessionOptions(settings, executionProviderFor(device))),
      refs: 0,
      profilePrefix: settings.profilePrefix,
    };
    entry = created;
    cache.set(key, created);
    // A failed load must not poison the cache for the next attempt.
    created.ort.catch(() => cache.delete(key));
  }
  let session: ort.InferenceSession;
  try {
    session = await entry.ort;
  } catch (err) {
    throw new KernelError(
      'SESSION_FAILED',
      `onnxruntime could not load the model on device '${device}' (available devices: ${availableDevices().join(', ')}): ${errorText(err)}`,
    );
  }
  entry.refs += 1;
  return new OrtKernelSession(session, device, key, entry);
}

/** Releases every cached session (tests, shutdown). Handles still held become unusable. */
export async function clearSessionCache(): Promise<void> {
  const entries = [...cache.values()];
  cache.clear();
  for (const e of entries) {
    const s = await e.ort.catch(() => undefined);
    if (s) await s.release();
  }
}

export function sessionCacheSize(): number {
  return cache.size;
}

function resolveDevice(name: string): DeviceName {
  const available = availableDevices();
  if (!isKnownDevice(name)) {
    throw new KernelError('DEVICE_UNAVAILABLE', `unknown device '${name}' (known: ${KNOWN_DEVICES.join(', ')}; available here: ${available.join(', ')})`);
  }
  if (!available.includes(name)) {
    throw new KernelError('DEVICE_UNAVAILABLE', `device '${name}' is not available in this onnxruntime-node install (available devices: ${available.join(', ')})`);
  }
  return name;
}

/** onnxruntime names the profile `<prefix>_<timestamp>.json`; the binding does not return the name. */
function newestFileWithPrefix(prefix: string, notBefore: number): string | undefined {
  const dir = path.dirname(path.resolve(prefix));
  const base = path.basename(prefix);
  let best: { file: string; mtime: number } | undefined;
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith(base) || !f.endsWith('.json')) continue;
    const file = path.join(dir, f);
    const mtime = fs.statSync(file).mtimeMs;
    if (mtime >= notBefore - 1000 && (!best || mtime > best.mtime)) best = { file, mtime };
  }
  return best?.file;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

class OrtKernelSession implements KernelSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private disposed = false;

  constructor(
    private readonly session: ort.InferenceSession,
    readonly device: DeviceName,
    private readonly key: string,
    private readonly entry: CachedSession,
  ) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
  }

  async run(feeds: Readonly<Record<string, KernelTensor>>, outputNames?: readonly string[]): Promise<Record<string, KernelTensor>> {
    if (this.disposed) throw new KernelError('SESSION_DISPOSED', 'run() on a disposed session');
    const ortFeeds = this.checkFeeds(feeds);
    const wanted = outputNames ?? this.outputNames;
    const unknown = wanted.filter((n) => !this.outputNames.includes(n));
    if (unknown.length) {
      throw new KernelError('FEEDS_INVALID', `unknown output(s) ${unknown.join(', ')}; the graph outputs ${this.outputNames.join(', ')}`);
    }
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.session.run(ortFeeds, [...wanted]);
    } catch (err) {
      throw new KernelError('SESSION_FAILED', `onnxruntime run failed on '${this.device}': ${errorText(err)}`);
    }
    const out: Record<string, KernelTensor> = {};
    for (const name of wanted) out[name] = fromOrt(name, results[name] as ort.Tensor);
    return out;
  }

  endProfiling(): string | undefined {
    const prefix = this.entry.profilePrefix;
    if (prefix === undefined) return undefined;
    const started = Date.now();
    this.session.endProfiling();
    return newestFileWithPrefix(prefix, started);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.entry.refs -= 1;
    if (this.entry.refs <= 0 && cache.get(this.key) === this.entry) {
      cache.delete(this.key);
      await this.session.release();
    }
  }

  /** Names, dtypes and fixed dims are checked here so a bad feed fails with a message naming it. */
  private checkFeeds(feeds: Readonly<Record<string, KernelTensor>>): Record<string, ort.Tensor> {
    const given = Object.keys(feeds);
    const missing = this.inputNames.filter((n) => !(n in feeds));
    const unexpected = given.filter((n) => !this.inputNames.includes(n));
    if (missing.length || unexpected.length) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing input(s): ${missing.join(', ')}`);
      if (unexpected.length) parts.push(`unexpected input(s): ${unexpected.join(', ')}`);
      throw new KernelError('FEEDS_INVALID', `${parts.join('; ')} (the graph takes ${this.inputNames.join(', ')})`);
    }
    const out: Record<string, ort.Tensor> = {};
    this.inputNames.forEach((name, i) => {
      const t = feeds[name]!;
      const meta = this.session.inputMetadata[i];
      if (meta && meta.isTensor) checkAgainstMetadata(name, t, meta.type, meta.shape);
      if (t.data.length !== shapeSize(t.shape)) {
        throw new KernelError('FEEDS_INVALID', `input '${name}': shape [${t.shape.join(', ')}] needs ${shapeSize(t.shape)} values, got ${t.data.length}`);
      }
      out[name] = new ort.Tensor(t.dtype, t.data, t.shape);
    });
    return out;
  }
}

function checkAgainstMetadata(name: string, t: KernelTensor, type: string, shape: ReadonlyArray<number | string>): void {
  if (type !== t.dtype) throw new KernelError('FEEDS_INVALID', `input '${name}' must be ${type}, got ${t.dtype}`);
  // An input declared without a shape reports []: nothing to check beyond the dtype.
  if (shape.length === 0 && t.shape.length !== 0) return;
  const mismatch = shape.length !== t.shape.length || shape.some((d, i) => typeof d === 'number' && d >= 0 && d !== t.shape[i]);
  if (mismatch) {
    throw new KernelError('FEEDS_INVALID', `input '${name}' must have shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
  }
}

function fromOrt(name: string, t: ort.Tensor): KernelTensor {
  const dtype = t.type as KernelDType;
  if (!KERNEL_DTYPES.includes(dtype)) throw new KernelError('TENSOR_INVALID', `output '${name}' has unsupported type ${t.type}`);
  return { dtype, shape: [...t.dims], data: t.data as KernelTensor['data'] };
}
