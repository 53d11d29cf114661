import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeFromFloat32 } from './dtype';
import { parseSafetensorsHeader, readSafetensors, SafetensorsFile, tensorToFloat32, writeSafetensors, writeSafetensorsFile } from './safetensors';

/** A file with the given header text (not padded) and `dataBytes` zero bytes of data. */
function fileWith(header: string, dataBytes: number, declaredLength?: number | bigint): Uint8Array {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredLength ?? json.byteLength), true);
  out.set(json, 8);
  return out;
}

const entry = (dtype: string, shape: unknown, offsets: unknown): string => JSON.stringify({ dtype, shape, data_offsets: offsets });

const malformed: Array<{ rule: string; bytes: Uint8Array; message: RegExp }> = [
  { rule: 'file shorter than 8 bytes', bytes: new Uint8Array(5), message: /shorter than the 8-byte/ },
  { rule: 'header length over 100,000,000', bytes: fileWith('{}', 0, 100_000_001), message: /exceeds the limit/ },
  { rule: 'header length beyond the file', bytes: fileWith('{}', 0, 50), message: /past the end/ },
  { rule: 'header not JSON', bytes: fileWith('{"a":', 0), message: /not valid JSON/ },
  { rule: 'header a JSON array', bytes: fileWith('[]', 0), message: /not a JSON object/ },
  { rule: 'header not UTF-8', bytes: (() => { const f = fileWith('{"a"}', 0); f[10] = 0xff; return f; })(), message: /UTF-8/ },
  { rule: 'unknown dtype', bytes: fileWith(`{"w":${entry('F33', [1], [0, 4])}}`, 4), message: /"w": unknown dtype "F33"/ },
  { rule: 'lower-case dtype', bytes: fileWith(`{"w":${entry('f32', [1], [0, 4])}}`, 4), message: /"w": unknown dtype/ },
  { rule: 'non-string metadata value', bytes: fileWith('{"__metadata__":{"format":1}}', 0), message: /__metadata__ value for "format"/ },
  { rule: 'metadata not an object', bytes: fileWith('{"__metadata__":"pt"}', 0), message: /__metadata__ must be an object/ },
  { rule: 'hole between tensors', bytes: fileWith(`{"a":${entry('F32', [1], [0, 4])},"b":${entry('F32', [1], [8, 12])}}`, 12), message: /"b": hole/ },
  { rule: 'hole at the start', bytes: fileWith(`{"a":${entry('F32', [1], [4, 8])}}`, 8), message: /"a": hole/ },
  { rule: 'overlapping tensors', bytes: fileWith(`{"a":${entry('F32', [2], [0, 8])},"b":${entry('F32', [1], [4, 8])}}`, 8), message: /"b": begins at 4, overlapping/ },
  { rule: 'span differs from shape x size', bytes: fileWith(`{"a":${entry('F16', [3], [0, 4])}}`, 4), message: /"a": data_offsets span 4 bytes but shape \[3\] of F16 needs 6/ },
  { rule: 'negative dimension', bytes: fileWith(`{"a":${entry('F32', [-1], [0, 4])}}`, 4), message: /"a": shape\[0\] = -1 is negative/ },
  { rule: 'non-integer dimension', bytes: fileWith(`{"a":${entry('F32', [1.5], [0, 4])}}`, 4), message: /"a": shape\[0\] = 1.5 is not an integer/ },
  { rule: 'negative offset', bytes: fileWith(`{"a":${entry('F32', [1], [-4, 0])}}`, 0), message: /"a": data_offsets\[0\] = -4 is negative/ },
  { rule: 'end before begin', bytes: fileWith(`{"a":${entry('F32', [0], [4, 0])}}`, 4), message: /"a": data_offsets end 0 is before begin 4/ },
  { rule: 'offsets not a pair', bytes: fileWith(`{"a":${entry('F32', [1], [0])}}`, 4), message: /"a": data_offsets must have 2 entries/ },
  { rule: 'shape product overflows', bytes: fileWith(`{"a":${entry('F32', [2 ** 30, 2 ** 30, 2 ** 10], [0, 4])}}`, 4), message: /"a": shape .* overflows/ },
  { rule: 'offset beyond safe integers', bytes: fileWith(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,18446744073709551615]}}`, 0), message: /"a": data_offsets\[1\] = .* overflows/ },
  { rule: 'unknown entry field', bytes: fileWith(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}`, 4), message: /"a": unknown field "extra"/ },
  { rule: 'buffer longer than the last end', bytes: fileWith(`{"a":${entry('F32', [1], [0, 4])}}`, 8), message: /data buffer is 8 bytes but the tensors end at 4/ },
  { rule: 'buffer shorter than the last end', bytes: fileWith(`{"a":${entry('F32', [2], [0, 8])}}`, 4), message: /data buffer is 4 bytes but the tensors end at 8/ },
];

describe('parseSafetensorsHeader rejects malformed files', () => {
  for (const { rule, bytes, message } of malformed) {
    it(rule, () => {
      assert.throws(() => parseSafetensorsHeader(bytes, bytes.byteLength), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'SAFETENSORS_INVALID');
        assert.match(e.message, message);
        return true;
      });
    });
  }
  it('accepts a valid file with zero-size tensors', () => {
    const bytes = fileWith(`{"e":${entry('F32', [0, 3], [0, 0])},"a":${entry('F32', [1], [0, 4])}}`, 4);
    const h = parseSafetensorsHeader(bytes, bytes.byteLength);
    assert.deepEqual([...h.tensors.keys()], ['e', 'a']);
  });
});

const sample = () => [
  { name: 'w.f32', dtype: 'F32' as const, shape: [2, 3], data: encodeFromFloat32('F32', new Float32Array([1, 2, 3, 4, 5, 6])) },
  { name: 'a.f16', dtype: 'F16' as const, shape: [3], data: encodeFromFloat32('F16', new Float32Array([0.5, -1, 2])) },
  { name: 'b.bf16', dtype: 'BF16' as const, shape: [1, 1], data: encodeFromFloat32('BF16', new Float32Array([3])) },
  { name: 'ids', dtype: 'I64' as const, shape: [2], data: new Uint8Array(16).fill(1) },
];

describe('writeSafetensors', () => {
  it('pads the header with spaces to a multiple of 8 and orders tensors deterministically', () => {
    const bytes = writeSafetensors(sample(), { format: 'pt', a: 'x' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.match(text, /^\{"__metadata__":\{"a":"x","format":"pt"\},"ids":\{"dtype":"I64","shape":\[2\],"data_offsets":\[0,16\]\},"w.f32".*\} *$/);
    assert.ok(text.endsWith(' ') || text.endsWith('}'));
    // Reversed input order gives the same bytes.
    assert.deepEqual(writeSafetensors(sample().reverse(), { a: 'x', format: 'pt' }), bytes);
  });
  it('round-trips byte-identically and decodes values', () => {
    const bytes = writeSafetensors(sample(), { format: 'pt' });
    const read = readSafetensors(bytes);
    assert.deepEqual(read.metadata, { format: 'pt' });
    const again = writeSafetensors([...read.tensors].map(([name, t]) => ({ name, ...t })), read.metadata);
    assert.deepEqual(again, bytes);
    assert.deepEqual([...tensorToFloat32(read.tensors.get('a.f16')!).data], [0.5, -1, 2]);
    assert.deepEqual(tensorToFloat32(read.tensors.get('w.f32')!).shape, [2, 3]);
    assert.throws(() => tensorToFloat32(read.tensors.get('ids')!), { code: 'UNSUPPORTED' });
  });
  it('accepts a Map and rejects wrong data lengths and duplicate names', () => {
    const map = new Map(sample().map((t) => [t.name, t]));
    assert.deepEqual(writeSafetensors(map), writeSafetensors(sample()));
    assert.throws(() => writeSafetensors([{ name: 'x', dtype: 'F32', shape: [2], data: new Uint8Array(4) }]), /needs 8/);
    assert.throws(() => writeSafetensors([...sample(), sample()[0]]), /given twice/);
  });
});

describe('SafetensorsFile', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'st-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('streams a file out and reads single tensors back through a descriptor', async () => {
    const file = path.join(dir, 'm.safetensors');
    let produced = 0;
    const tensors = sample().map((t) => ({ ...t, data: () => (produced++, t.data) }));
    const size = await writeSafetensorsFile(file, tensors, { format: 'pt' });
    assert.equal(produced, 4);
    assert.equal(statSync(file).size, size);
    assert.deepEqual(new Uint8Array(readFileSync(file)), writeSafetensors(sample(), { format: 'pt' }));
    const st = await SafetensorsFile.open(file);
    try {
      assert.deepEqual(st.tensorNames.sort(), ['a.f16', 'b.bf16', 'ids', 'w.f32']);
      const w = await st.readTensor('w.f32');
      assert.deepEqual([...w.data], [1, 2, 3, 4, 5, 6]);
      assert.deepEqual((await st.readRaw('ids')).data, new Uint8Array(16).fill(1));
      await assert.rejects(() => st.readTensor('nope'), /no tensor named "nope"/);
    } finally {
      await st.close();
    }
  });
  it('names the file when the header is invalid', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = path.join(dir, 'bad.safetensors');
    writeFileSync(file, fileWith(`{"a":${entry('F32', [2], [0, 8])}}`, 4));
    await assert.rejects(() => SafetensorsFile.open(file), (e: Error & { code?: string }) => e.code === 'SAFETENSORS_INVALID' && e.message.includes('bad.safetensors'));
  });
});
