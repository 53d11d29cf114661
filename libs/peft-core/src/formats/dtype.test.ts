import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rng } from '../util/rng';
import { decodeToFloat32, encodeFromFloat32, f16BitsToFloat, f32BitsToBf16Bits, f32BitsToF16Bits, DTYPE_SIZES } from './dtype';

const bitsOf = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0];
const floatOf = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0];

describe('dtype sizes', () => {
  it('matches the safetensors element sizes', () => {
    assert.deepEqual(
      [DTYPE_SIZES.F64, DTYPE_SIZES.F32, DTYPE_SIZES.F16, DTYPE_SIZES.BF16, DTYPE_SIZES.I64, DTYPE_SIZES.I32, DTYPE_SIZES.I16, DTYPE_SIZES.I8, DTYPE_SIZES.U8, DTYPE_SIZES.BOOL, DTYPE_SIZES.F8_E4M3, DTYPE_SIZES.F8_E5M2],
      [8, 4, 2, 2, 8, 4, 2, 1, 1, 1, 1, 1],
    );
  });
});

describe('F16', () => {
  const cases: Array<[string, number, number]> = [
    ['zero', 0, 0x0000],
    ['negative zero', -0, 0x8000],
    ['one', 1, 0x3c00],
    ['minus two', -2, 0xc000],
    ['max finite', 65504, 0x7bff],
    ['rounds to max finite', 65519, 0x7bff],
    ['rounds up to infinity', 65520, 0x7c00],
    ['infinity', Infinity, 0x7c00],
    ['-infinity', -Infinity, 0xfc00],
    ['smallest normal', 2 ** -14, 0x0400],
    ['smallest subnormal', 2 ** -24, 0x0001],
    ['largest subnormal', 2 ** -14 - 2 ** -24, 0x03ff],
    ['half the smallest subnormal ties to zero', 2 ** -25, 0x0000],
    ['just above half the smallest subnormal', floatOf(bitsOf(2 ** -25) + 1), 0x0001],
    ['1.5 x smallest subnormal ties to even (2)', 1.5 * 2 ** -24, 0x0002],
    ['tie between 1 and next rounds to even (1)', 1 + 2 ** -11, 0x3c00],
    ['tie between next and next+1 rounds to even', 1 + 3 * 2 ** -11, 0x3c02],
    ['above the tie rounds up', 1 + 2 ** -11 + 2 ** -20, 0x3c01],
    ['underflow to zero', 1e-10, 0x0000],
  ];
  for (const [name, value, bits] of cases) {
    it(`encodes ${name}`, () => {
      assert.equal(f32BitsToF16Bits(bitsOf(value)), bits);
    });
  }
  it('keeps NaN a NaN', () => {
    const h = f32BitsToF16Bits(bitsOf(NaN));
    assert.ok(Number.isNaN(f16BitsToFloat(h)));
    // A NaN whose payload lives only in the low bits must not become Inf.
    assert.ok(Number.isNaN(f16BitsToFloat(f32BitsToF16Bits(0x7f800001))));
  });
  it('decodes all 65536 bit patterns and re-encodes them exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const values = decodeToFloat32('F16', new Uint8Array(all.buffer));
    const back = new Uint16Array(encodeFromFloat32('F16', values).buffer);
    for (let i = 0; i < 65536; i++) {
      const exp = (i >>> 10) & 0x1f;
      if (exp === 0x1f && (i & 0x3ff) !== 0) assert.ok(Number.isNaN(values[i]));
      else assert.equal(back[i], i, `bits 0x${i.toString(16)}`);
    }
  });
  it('rounds random floats to the nearest F16 value', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 2000; i++) {
      const x = Math.fround(rng.normal() * 10 ** rng.int(8) * 10 ** -4);
      const h = f32BitsToF16Bits(bitsOf(x));
      const y = f16BitsToFloat(h);
      // Neighbours of h must not be strictly closer.
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7fff) >= 0x7c00 || n < 0 || (n & 0x7fff) === 0x7fff) continue;
        if (((n ^ h) & 0x8000) !== 0) continue;
        assert.ok(Math.abs(f16BitsToFloat(n) - x) >= Math.abs(y - x), `x=${x}`);
      }
    }
  });
});

describe('BF16', () => {
  const cases: Array<[string, number, number]> = [
    ['one', 1, 0x3f80],
    ['minus one', -1, 0xbf80],
    ['infinity', Infinity, 0x7f80],
    ['-infinity', -Infinity, 0xff80],
    ['tie rounds to even (down)', floatOf(0x3f808000), 0x3f80],
    ['tie rounds to even (up)', floatOf(0x3f818000), 0x3f82],
    ['above tie rounds up', floatOf(0x3f808001), 0x3f81],
    ['max float rounds to infinity', floatOf(0x7f7fffff), 0x7f80],
    ['subnormal kept', floatOf(0x00010000), 0x0001],
  ];
  for (const [name, value, bits] of cases) {
    it(`encodes ${name}`, () => assert.equal(f32BitsToBf16Bits(bitsOf(value)), bits));
  }
  it('keeps NaN a NaN and round-trips every pattern', () => {
    assert.ok(Number.isNaN(decodeToFloat32('BF16', encodeFromFloat32('BF16', new Float32Array([NaN])))[0]));
    const all = new Uint16Array(65536).map((_, i) => i);
    const values = decodeToFloat32('BF16', new Uint8Array(all.buffer));
    const back = new Uint16Array(encodeFromFloat32('BF16', values).buffer);
    for (let i = 0; i < 65536; i++) {
      if ((i & 0x7f80) === 0x7f80 && (i & 0x7f) !== 0) assert.ok(Number.isNaN(values[i]));
      else assert.equal(back[i], i);
    }
  });
});

describe('F32 and F64', () => {
  it('round-trips exactly, including from unaligned bytes', () => {
    const values = new Float32Array([0, -0, 1.5, -3.25e-40, 3.4e38, Infinity, -Infinity]);
    for (const dtype of ['F32', 'F64'] as const) {
      const bytes = encodeFromFloat32(dtype, values);
      const unaligned = new Uint8Array(bytes.byteLength + 1).subarray(1);
      unaligned.set(bytes);
      assert.deepEqual(decodeToFloat32(dtype, unaligned), values);
    }
  });
  it('rejects a byte count that is not whole elements', () => {
    assert.throws(() => decodeToFloat32('F32', new Uint8Array(6)), { code: 'SHAPE_MISMATCH' });
  });
});
