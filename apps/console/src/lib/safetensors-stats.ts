/**
 * Per-tensor statistics of a LoRA adapter's adapter_model.safetensors, computed in the browser
 * from the downloaded bytes (the registry stores the file byte-identical to the upload).
 * Format: 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}},
 * then the raw tensor bytes.
 */

export interface TensorStats {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Transformer layer index parsed from the name (…layers.N…), or null. */
  readonly layer: number | null;
  /** The projection (q_proj, …) and the LoRA side (lora_A / lora_B), parsed from the name. */
  readonly module: string | null;
  readonly side: 'A' | 'B' | null;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
  /** Frobenius norm. */
  readonly norm: number;
}

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

const SUPPORTED = ['F32', 'F16', 'BF16', 'F64'] as const;
type Dtype = (typeof SUPPORTED)[number];
const BYTES: Readonly<Record<Dtype, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

interface HeaderEntry {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data_offsets: readonly [number, number];
}

export function tensorStats(buffer: ArrayBuffer): TensorStats[] {
  if (buffer.byteLength < 8) throw new SafetensorsError(`file is ${buffer.byteLength} bytes: too short for a safetensors header`);
  const view = new DataView(buffer);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > buffer.byteLength - 8) throw new SafetensorsError(`header length ${headerLength} exceeds the file (${buffer.byteLength} bytes)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 8, headerLength))) as Record<string, unknown>;
  } catch (error) {
    throw new SafetensorsError(`header is not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const dataStart = 8 + headerLength;
  const stats: TensorStats[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const entry = raw as HeaderEntry;
    if (!(SUPPORTED as readonly string[]).includes(entry.dtype)) throw new SafetensorsError(`tensor ${name}: dtype ${entry.dtype} is not one of ${SUPPORTED.join(', ')}`);
    const dtype = entry.dtype as Dtype;
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype] || dataStart + end > buffer.byteLength) {
      throw new SafetensorsError(`tensor ${name}: offsets [${begin}, ${end}] do not match shape [${entry.shape.join(', ')}] ${dtype}`);
    }
    stats.push({ name, dtype, shape: entry.shape, ...nameParts(name), ...summarise(readValues(view, dataStart + begin, count, dtype)) });
  }
  return stats.sort((a, b) => (a.layer ?? -1) - (b.layer ?? -1) || a.name.localeCompare(b.name));
}

function nameParts(name: string): Pick<TensorStats, 'layer' | 'module' | 'side'> {
  const layer = /\.layers\.(\d+)\./.exec(name);
  const module = /\.([a-z_]+_proj)\./.exec(name);
  const side = /lora_([AB])\b/.exec(name);
  return { layer: layer ? Number(layer[1]) : null, module: module ? module[1]! : null, side: side ? (side[1] as 'A' | 'B') : null };
}

function readValues(view: DataView, offset: number, count: number, dtype: Dtype): Float64Array {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = offset + i * BYTES[dtype];
    switch (dtype) {
      case 'F32':
        out[i] = view.getFloat32(at, true);
        break;
      case 'F64':
        out[i] = view.getFloat64(at, true);
        break;
      case 'F16':
        out[i] = halfToFloat(view.getUint16(at, true));
        break;
      case 'BF16':
        out[i] = bfloat16ToFloat(view.getUint16(at, true));
        break;
    }
  }
  return out;
}

function summarise(values: Float64Array): Pick<TensorStats, 'mean' | 'std' | 'min' | 'max' | 'norm'> {
  if (values.length === 0) return { mean: 0, std: 0, min: 0, max: 0, norm: 0 };
  let sum = 0;
  let sumSquares = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    sum += v;
    sumSquares += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / values.length;
  return { mean, std: Math.sqrt(Math.max(0, sumSquares / values.length - mean * mean)), min, max, norm: Math.sqrt(sumSquares) };
}

export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

export function bfloat16ToFloat(bits: number): number {
  const scratch = new DataView(new ArrayBuffer(4));
  scratch.setUint32(0, bits << 16);
  return scratch.getFloat32(0);
}

/** Per layer: the norm of every LoRA tensor in it combined, for the layer bar chart. */
export function layerNorms(stats: readonly TensorStats[]): { layer: number; norm: number }[] {
  const byLayer = new Map<number, number>();
  for (const s of stats) if (s.layer !== null) byLayer.set(s.layer, (byLayer.get(s.layer) ?? 0) + s.norm * s.norm);
  return [...byLayer].sort((a, b) => a[0] - b[0]).map(([layer, squares]) => ({ layer, norm: Math.sqrt(squares) }));
}
