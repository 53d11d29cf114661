/**
 * Element types of safetensors files and the conversions between their byte encodings and
 * float32. All multi-byte encodings are little-endian, as safetensors specifies.
 *
 * F16 and BF16 encoding rounds to nearest, ties to even, and keeps NaN (quiet), ±Inf and
 * subnormals; decoding is exact because every F16/BF16 value is representable in float32.
 */
import { PeftCoreError } from '../errors';

export const DTYPE_SIZES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

export type Dtype = keyof typeof DTYPE_SIZES;

/** The dtypes that decodeToFloat32 / encodeFromFloat32 convert. */
export const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F64'] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

export function isDtype(name: unknown): name is Dtype {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZES, name);
}

export function isFloatDtype(name: unknown): name is FloatDtype {
  return typeof name === 'string' && (FLOAT_DTYPES as readonly string[]).includes(name);
}

export function dtypeSize(dtype: Dtype): number {
  return DTYPE_SIZES[dtype];
}

// Typed-array views below reinterpret bytes in host order; safetensors is little-endian.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function assertLittleEndianHost(): void {
  if (!HOST_IS_LITTLE_ENDIAN) throw new PeftCoreError('UNSUPPORTED', 'big-endian hosts are not supported');
}

/**
 * A private, zero-offset copy of `bytes`. Typed arrays need offsets aligned to their element
 * size, which tensors inside a safetensors buffer need not have; the copy also keeps the
 * result independent of the caller's buffer.
 */
function copyToBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}

function checkLength(dtype: FloatDtype, bytes: Uint8Array): number {
  const size = DTYPE_SIZES[dtype];
  if (bytes.byteLength % size !== 0) {
    throw new PeftCoreError('SHAPE_MISMATCH', `${bytes.byteLength} bytes is not a whole number of ${dtype} elements`);
  }
  return bytes.byteLength / size;
}

/** Decodes little-endian F32/F16/BF16/F64 bytes into a fresh Float32Array. */
export function decodeToFloat32(dtype: FloatDtype, bytes: Uint8Array): Float32Array {
  assertLittleEndianHost();
  if (!isFloatDtype(dtype)) throw new PeftCoreError('UNSUPPORTED', `cannot decode dtype ${String(dtype)} to float32`);
  const n = checkLength(dtype, bytes);
  switch (dtype) {
    case 'F32':
      return new Float32Array(copyToBuffer(bytes), 0, n);
    case 'F64':
      return Float32Array.from(new Float64Array(copyToBuffer(bytes), 0, n));
    case 'F16': {
      const halves = new Uint16Array(copyToBuffer(bytes), 0, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16BitsToFloat(halves[i]);
      return out;
    }
    case 'BF16': {
      const halves = new Uint16Array(copyToBuffer(bytes), 0, n);
      const words = new Uint32Array(n);
      for (let i = 0; i < n; i++) words[i] = halves[i] << 16;
      return new Float32Array(words.buffer);
    }
  }
}

/** Encodes float32 values as little-endian bytes of `dtype` (round to nearest even for F16/BF16). */
export function encodeFromFloat32(dtype: FloatDtype, values: Float32Array): Uint8Array {
  assertLittleEndianHost();
  if (!isFloatDtype(dtype)) throw new PeftCoreError('UNSUPPORTED', `cannot encode float32 as dtype ${String(dtype)}`);
  const n = values.length;
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      out.set(values);
      return new Uint8Array(out.buffer);
    }
    case 'F64':
      return new Uint8Array(Float64Array.from(values).buffer);
    case 'F16': {
      const out = new Uint16Array(n);
      const words = new Uint32Array(values.buffer, values.byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = f32BitsToF16Bits(words[i]);
      return new Uint8Array(out.buffer);
    }
    case 'BF16': {
      const out = new Uint16Array(n);
      const words = new Uint32Array(values.buffer, values.byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = f32BitsToBf16Bits(words[i]);
      return new Uint8Array(out.buffer);
    }
  }
}

/** IEEE binary16 bits to its (exactly representable) value. */
export function f16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >>> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** float32 bits to binary16 bits, rounding to nearest with ties to even. */
export function f32BitsToF16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) {
    // Keep NaN a NaN (force a mantissa bit so a truncated payload cannot become Inf).
    return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  }
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is subnormal (or zero): value / 2^-24, rounded.
    if (e < -10) return sign;
    const full = mantissa | 0x800000;
    const shift = 14 - e;
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa bumps the exponent, and at the top gives Inf: both correct.
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** float32 bits to bfloat16 bits, rounding to nearest with ties to even. */
export function f32BitsToBf16Bits(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000 && (bits & 0x7fffff) !== 0) return ((bits >>> 16) | 0x40) & 0xffff;
  const rounding = 0x7fff + ((bits >>> 16) & 1);
  return Math.floor((bits + rounding) / 65536) & 0xffff;
}
