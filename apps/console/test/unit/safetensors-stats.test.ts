import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdapterConfig, createPeftAdapter, randomLora, randomModelConfig, writePeftAdapter } from '@palette/peft-core';
import { bfloat16ToFloat, halfToFloat, layerNorms, SafetensorsError, tensorStats } from '../../src/lib/safetensors-stats';

/** A safetensors file from named Float32 tensors (or with a given dtype and raw bytes). */
function safetensors(tensors: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }>): ArrayBuffer {
  let offset = 0;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of Object.values(tensors)) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out.buffer;
}

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

describe('tensorStats', () => {
  it('computes mean, std, min, max and norm per tensor and parses layer, module and side', () => {
    const stats = tensorStats(
      safetensors({
        'base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight': { dtype: 'F32', shape: [2, 2], bytes: f32([3, 4, 0, 0]) },
        'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight': { dtype: 'F32', shape: [1, 4], bytes: f32([1, -1, 1, -1]) },
      }),
    );
    assert.deepEqual(
      stats.map((s) => [s.layer, s.module, s.side]),
      [
        [0, 'q_proj', 'A'],
        [1, 'v_proj', 'B'],
      ],
    );
    const [a, b] = stats;
    assert.equal(a!.mean, 0);
    assert.equal(a!.std, 1);
    assert.equal(a!.norm, 2);
    assert.deepEqual([a!.min, a!.max], [-1, 1]);
    assert.equal(b!.norm, 5);
    assert.equal(b!.mean, 7 / 4);
    assert.deepEqual(layerNorms(stats), [
      { layer: 0, norm: 2 },
      { layer: 1, norm: 5 },
    ]);
  });

  it('reads F16 and BF16 values', () => {
    assert.equal(halfToFloat(0x3c00), 1);
    assert.equal(halfToFloat(0xc000), -2);
    assert.equal(halfToFloat(0x3555), 0.333251953125);
    assert.equal(bfloat16ToFloat(0x3f80), 1);
    assert.equal(bfloat16ToFloat(0xc040), -3);
    const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer);
    const [s] = tensorStats(safetensors({ 'x.layers.2.mlp.down_proj.lora_A.weight': { dtype: 'F16', shape: [2], bytes: half } }));
    assert.deepEqual([s!.min, s!.max, s!.layer, s!.module], [-2, 1, 2, 'down_proj']);
  });

  it('agrees with peft-core on a real PEFT adapter file (norm of every tensor)', () => {
    const base = randomModelConfig({ vocabSize: 64 });
    const weights = randomLora(base, { r: 3, seed: 4, targetModules: ['q_proj', 'v_proj'] });
    const files = writePeftAdapter(createPeftAdapter(createAdapterConfig({ r: 3, lora_alpha: 3, target_modules: ['q_proj', 'v_proj'] }), weights, { base }));
    const bytes = new Uint8Array(files.safetensors);
    const stats = tensorStats(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    assert.equal(stats.length, base.numLayers * 2 * 2);
    for (const module of weights.modules.values()) {
      for (const [side, tensor] of [['A', module.A], ['B', module.B]] as const) {
        const found = stats.find((s) => s.name.includes(`${module.path}.lora_${side}.`));
        assert.ok(found, `${module.path}.${side}`);
        assert.deepEqual(found.shape, tensor.shape);
        const expected = Math.sqrt(tensor.data.reduce((sum, v) => sum + v * v, 0));
        assert.ok(Math.abs(found.norm - expected) < 1e-4 * Math.max(1, expected), `${found.name}: ${found.norm} vs ${expected}`);
      }
    }
  });

  it('names the problem in files that are not safetensors', () => {
    assert.throws(() => tensorStats(new ArrayBuffer(4)), SafetensorsError);
    const lying = new Uint8Array(16);
    new DataView(lying.buffer).setBigUint64(0, 1000n, true);
    assert.throws(() => tensorStats(lying.buffer), /exceeds the file/);
    assert.throws(() => tensorStats(safetensors({ t: { dtype: 'I64', shape: [1], bytes: new Uint8Array(8) } })), /dtype I64/);
    assert.throws(() => tensorStats(safetensors({ t: { dtype: 'F32', shape: [3], bytes: f32([1, 2]) } })), /do not match shape/);
  });
});
