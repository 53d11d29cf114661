/**
 * safetensors reading and writing (ALGORITHMS.md "safetensors").
 *
 * Layout: u64 little-endian header length N, N bytes of UTF-8 JSON, then the data buffer.
 * The parser validates every rule the reference implementation enforces and names the tensor
 * and the rule that failed. The writer is deterministic: compact JSON with keys in a fixed
 * order, `__metadata__` first with sorted keys, tensors ordered by element size (largest
 * first, which keeps every tensor aligned to its element size) then by name, as the reference
 * library orders them; the header is padded with spaces to a multiple of 8.
 */
import { promises as fsp } from 'node:fs';
import { PeftCoreError } from '../errors';
import { numel, type HostTensor } from '../tensor/host-tensor';
import { decodeToFloat32, dtypeSize, isDtype, isFloatDtype, type Dtype } from './dtype';

/** The reference implementation's limit on the header length. */
export const MAX_HEADER_LENGTH = 100_000_000;

export interface SafetensorsTensorInfo {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Offsets into the data buffer (which starts at dataStart in the file). */
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsHeader {
  /** N, the JSON header's length in bytes (padding included). */
  readonly headerLength: number;
  /** 8 + N: where the data buffer starts in the file. */
  readonly dataStart: number;
  /** Tensors in the order the header lists them. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensorInfo>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A tensor's raw bytes plus its declared type and shape. */
export interface RawTensor {
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

export interface NamedRawTensor extends RawTensor {
  readonly name: string;
}

function invalid(message: string, details?: Record<string, unknown>): PeftCoreError {
  return new PeftCoreError('SAFETENSORS_INVALID', `safetensors: ${message}`, details);
}

/**
 * Reads N from the first 8 bytes and checks it against the file size.
 * Exposed so that a file reader can learn how many bytes of header to read next.
 */
export function readHeaderLength(prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.byteLength < 8) throw invalid(`file is ${fileSize} bytes, shorter than the 8-byte length prefix`);
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_LENGTH)) throw invalid(`header length ${n} exceeds the limit of ${MAX_HEADER_LENGTH} bytes`);
  const headerLength = Number(n);
  if (8 + headerLength > fileSize) throw invalid(`header length ${headerLength} runs past the end of the ${fileSize}-byte file`);
  return headerLength;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkIndexArray(value: unknown, what: string, tensor: string, expectedLength?: number): number[] {
  if (!Array.isArray(value)) throw invalid(`tensor "${tensor}": ${what} must be an array`);
  if (expectedLength !== undefined && value.length !== expectedLength) {
    throw invalid(`tensor "${tensor}": ${what} must have ${expectedLength} entries, has ${value.length}`);
  }
  return value.map((v: unknown, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`tensor "${tensor}": ${what}[${i}] = ${JSON.stringify(v)} is not an integer`);
    if (v < 0) throw invalid(`tensor "${tensor}": ${what}[${i}] = ${v} is negative`);
    if (!Number.isSafeInteger(v)) throw invalid(`tensor "${tensor}": ${what}[${i}] = ${v} overflows`);
    return v;
  });
}

function parseTensorInfo(name: string, value: unknown): SafetensorsTensorInfo {
  if (!isPlainObject(value)) throw invalid(`tensor "${name}": entry must be an object`);
  for (const key of Object.keys(value)) {
    if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') throw invalid(`tensor "${name}": unknown field "${key}"`);
  }
  const dtype = value.dtype;
  if (!isDtype(dtype)) throw invalid(`tensor "${name}": unknown dtype ${JSON.stringify(dtype)}`);
  const shape = checkIndexArray(value.shape, 'shape', name);
  const [begin, end] = checkIndexArray(value.data_offsets, 'data_offsets', name, 2);
  if (end < begin) throw invalid(`tensor "${name}": data_offsets end ${end} is before begin ${begin}`);
  // Multiply in BigInt so an overflowing shape is reported rather than silently rounded.
  let bytes = BigInt(dtypeSize(dtype));
  for (const d of shape) bytes *= BigInt(d);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(`tensor "${name}": shape [${shape.join(', ')}] overflows`);
  if (BigInt(end - begin) !== bytes) {
    throw invalid(`tensor "${name}": data_offsets span ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${bytes}`);
  }
  return { dtype, shape, begin, end };
}

/**
 * Parses and validates a header. `prefix` holds at least the first 8 + N bytes of the file;
 * `fileSize` is the whole file's size, used to check that the data buffer is exactly as long
 * as the tensors need.
 */
export function parseSafetensorsHeader(prefix: Uint8Array, fileSize: number): SafetensorsHeader {
  const headerLength = readHeaderLength(prefix, fileSize);
  if (prefix.byteLength < 8 + headerLength) {
    throw invalid(`only ${prefix.byteLength} bytes given, the header needs ${8 + headerLength}`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(prefix.subarray(8, 8 + headerLength));
  } catch {
    throw invalid('header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw invalid(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(json)) throw invalid('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, value] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isPlainObject(value)) throw invalid('__metadata__ must be an object of strings');
      for (const [key, v] of Object.entries(value)) {
        if (typeof v !== 'string') throw invalid(`__metadata__ value for "${key}" is ${JSON.stringify(v)}, not a string`);
        metadata[key] = v;
      }
      continue;
    }
    tensors.set(name, parseTensorInfo(name, value));
  }

  // Sorted by offset, tensors must tile the buffer from 0 with no hole and no overlap.
  const ordered = [...tensors].sort((a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end);
  let expected = 0;
  for (const [name, info] of ordered) {
    if (info.begin > expected) throw invalid(`tensor "${name}": hole in the data buffer before offset ${info.begin} (previous tensor ends at ${expected})`);
    if (info.begin < expected) throw invalid(`tensor "${name}": begins at ${info.begin}, overlapping the previous tensor that ends at ${expected}`);
    expected = info.end;
  }
  const dataStart = 8 + headerLength;
  const bufferLength = fileSize - dataStart;
  if (bufferLength !== expected) {
    throw invalid(`data buffer is ${bufferLength} bytes but the tensors end at ${expected}`);
  }
  return { headerLength, dataStart, tensors, metadata };
}

export interface SafetensorsContents {
  readonly header: SafetensorsHeader;
  /** Views into the input bytes (no copies), in header order. */
  readonly tensors: ReadonlyMap<string, RawTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Parses a whole in-memory file; tensor data are views into `bytes`. */
export function readSafetensors(bytes: Uint8Array): SafetensorsContents {
  const header = parseSafetensorsHeader(bytes, bytes.byteLength);
  const tensors = new Map<string, RawTensor>();
  for (const [name, info] of header.tensors) {
    tensors.set(name, {
      dtype: info.dtype,
      shape: info.shape,
      data: bytes.subarray(header.dataStart + info.begin, header.dataStart + info.end),
    });
  }
  return { header, tensors, metadata: header.metadata };
}

/** Decodes a float tensor (F32/F16/BF16/F64) into a HostTensor. */
export function tensorToFloat32(tensor: RawTensor, name = 'tensor'): HostTensor {
  if (!isFloatDtype(tensor.dtype)) throw new PeftCoreError('UNSUPPORTED', `${name}: dtype ${tensor.dtype} is not a float type`);
  return { shape: [...tensor.shape], data: decodeToFloat32(tensor.dtype, tensor.data) };
}

/**
 * A safetensors file on disk, read through a file descriptor: open() reads only the header,
 * and each tensor read fetches only that tensor's bytes, so huge checkpoints never sit in
 * memory whole.
 */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    private readonly handle: fsp.FileHandle,
    readonly header: SafetensorsHeader,
  ) {}

  static async open(path: string): Promise<SafetensorsFile> {
    const handle = await fsp.open(path, 'r');
    try {
      const { size } = await handle.stat();
      const lengthBytes = await readExactly(handle, 0, Math.min(8, size));
      const headerLength = readHeaderLength(lengthBytes, size);
      const prefix = new Uint8Array(8 + headerLength);
      prefix.set(lengthBytes);
      prefix.set(await readExactly(handle, 8, headerLength), 8);
      return new SafetensorsFile(path, handle, parseSafetensorsHeader(prefix, size));
    } catch (e) {
      await handle.close();
      if (e instanceof PeftCoreError) throw new PeftCoreError(e.code, `${path}: ${e.message}`, e.details);
      throw e;
    }
  }

  get tensorNames(): string[] {
    return [...this.header.tensors.keys()];
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
  }

  info(name: string): SafetensorsTensorInfo {
    const info = this.header.tensors.get(name);
    if (!info) throw new PeftCoreError('SAFETENSORS_INVALID', `${this.path}: no tensor named "${name}"`);
    return info;
  }

  async readRaw(name: string): Promise<RawTensor> {
    const info = this.info(name);
    const data = await readExactly(this.handle, this.header.dataStart + info.begin, info.end - info.begin);
    return { dtype: info.dtype, shape: info.shape, data };
  }

  async readTensor(name: string): Promise<HostTensor> {
    return tensorToFloat32(await this.readRaw(name), name);
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

async function readExactly(handle: fsp.FileHandle, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(out, done, length - done, position + done);
    if (bytesRead === 0) throw invalid(`unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
  return out;
}

// ---- writing ----

/** A tensor to write whose bytes may be produced on demand (for streaming big models). */
export interface TensorSource {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array | (() => Uint8Array | Promise<Uint8Array>);
}

type TensorInput<T> = readonly T[] | ReadonlyMap<string, Omit<T, 'name'>>;

function toList<T extends { name: string }>(tensors: TensorInput<T>): T[] {
  if (Array.isArray(tensors)) return [...(tensors as readonly T[])];
  return [...(tensors as ReadonlyMap<string, Omit<T, 'name'>>)].map(([name, t]) => ({ ...t, name }) as T);
}

interface PlannedTensor<T> {
  readonly tensor: T;
  readonly begin: number;
  readonly end: number;
}

interface WritePlan<T> {
  readonly headerBytes: Uint8Array;
  readonly tensors: PlannedTensor<T>[];
  readonly totalSize: number;
}

/** Deterministic tensor order: larger elements first (keeps alignment), then by name. */
function compareForWrite(a: { name: string; dtype: Dtype }, b: { name: string; dtype: Dtype }): number {
  const bySize = dtypeSize(b.dtype) - dtypeSize(a.dtype);
  if (bySize !== 0) return bySize;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function planWrite<T extends { name: string; dtype: Dtype; shape: readonly number[] }>(
  tensors: T[],
  metadata: Readonly<Record<string, string>> | undefined,
): WritePlan<T> {
  const seen = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__') throw invalid('a tensor cannot be named "__metadata__"');
    if (seen.has(t.name)) throw invalid(`tensor "${t.name}" given twice`);
    seen.add(t.name);
    if (!isDtype(t.dtype)) throw invalid(`tensor "${t.name}": unknown dtype ${JSON.stringify(t.dtype)}`);
    for (const d of t.shape) {
      if (!Number.isSafeInteger(d) || d < 0) throw invalid(`tensor "${t.name}": bad dimension ${d}`);
    }
  }
  const ordered = [...tensors].sort(compareForWrite);
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    const sorted: Record<string, string> = {};
    for (const key of Object.keys(metadata).sort()) {
      const value = metadata[key];
      if (typeof value !== 'string') throw invalid(`__metadata__ value for "${key}" is not a string`);
      sorted[key] = value;
    }
    header.__metadata__ = sorted;
  }
  const planned: PlannedTensor<T>[] = [];
  let offset = 0;
  for (const t of ordered) {
    const size = numel(t.shape) * dtypeSize(t.dtype);
    planned.push({ tensor: t, begin: offset, end: offset + size });
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const headerBytes = new Uint8Array(8 + padded);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(padded), true);
  headerBytes.set(json, 8);
  headerBytes.fill(0x20, 8 + json.byteLength);
  return { headerBytes, tensors: planned, totalSize: headerBytes.byteLength + offset };
}

function checkDataLength(t: { name: string; dtype: Dtype; shape: readonly number[] }, data: Uint8Array): void {
  const expected = numel(t.shape) * dtypeSize(t.dtype);
  if (data.byteLength !== expected) {
    throw invalid(`tensor "${t.name}": ${data.byteLength} bytes given, shape [${t.shape.join(', ')}] of ${t.dtype} needs ${expected}`);
  }
}

/** Serialises tensors (and optional string metadata) into one safetensors buffer. */
export function writeSafetensors(tensors: TensorInput<NamedRawTensor>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const plan = planWrite(toList(tensors), metadata);
  const out = new Uint8Array(plan.totalSize);
  out.set(plan.headerBytes);
  for (const { tensor, begin } of plan.tensors) {
    checkDataLength(tensor, tensor.data);
    out.set(tensor.data, plan.headerBytes.byteLength + begin);
  }
  return out;
}

/**
 * Writes a safetensors file tensor by tensor; a tensor whose `data` is a function is
 * produced only when its turn comes, so at most one tensor's bytes are held at a time.
 * Writes to `<path>.tmp` and renames, so a crash never leaves a truncated file at `path`.
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: TensorInput<TensorSource>,
  metadata?: Readonly<Record<string, string>>,
): Promise<number> {
  const plan = planWrite(toList(tensors), metadata);
  const tmp = `${path}.tmp`;
  const handle = await fsp.open(tmp, 'w');
  try {
    await writeAll(handle, plan.headerBytes, 0);
    for (const { tensor, begin } of plan.tensors) {
      const data = typeof tensor.data === 'function' ? await tensor.data() : tensor.data;
      checkDataLength(tensor, data);
      await writeAll(handle, data, plan.headerBytes.byteLength + begin);
    }
    await handle.sync();
  } catch (e) {
    await handle.close();
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  await fsp.rename(tmp, path);
  return plan.totalSize;
}

async function writeAll(handle: fsp.FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.byteLength) {
    const { bytesWritten } = await handle.write(data, done, data.byteLength - done, position + done);
    done += bytesWritten;
  }
}
