import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomLora, randomModelConfig } from '../testing/random-model';
import { rowLoraNames } from './lora-inputs';
import { LoraPool } from './lora-pool';

const config = randomModelConfig({ hiddenSize: 16, numHeads: 4, numKvHeads: 2, intermediateSize: 24, vocabSize: 20 });
const Q = 'model.layers.0.self_attn.q_proj';
const V = 'model.layers.0.self_attn.v_proj';

describe('LoraPool (the per-row feeds of the decode graph)', () => {
  it("lays out each row's adapter, zeros for rows without one, padded to the widest rank", () => {
    const pool = new LoraPool(config);
    const small = randomLora(config, { r: 2, seed: 1, alpha: 4, targetModules: ['q_proj'] });
    const wide = randomLora(config, { r: 4, seed: 2, targetModules: ['q_proj', 'v_proj'] });
    pool.acquire(small);
    pool.acquire(wide);
    const feeds = pool.batchFeeds([small, undefined, wide]);
    const A = feeds[rowLoraNames.A(Q)]!;
    assert.deepEqual(A.shape, [3, 4, 16], 'rank padded to the widest adapter');
    const a = A.data as Float32Array;
    const m = small.modules.get(Q)!;
    assert.deepEqual(Array.from(a.subarray(0, 2 * 16)), Array.from(m.A.data), 'row 0: the small adapter’s A');
    assert.ok(a.subarray(2 * 16, 4 * 16).every((v) => v === 0), 'its padded rank rows are zero');
    assert.ok(a.subarray(4 * 16, 8 * 16).every((v) => v === 0), 'row 1 (no adapter) is zero');
    assert.deepEqual(Array.from(a.subarray(8 * 16, 12 * 16)), Array.from(wide.modules.get(Q)!.A.data), 'row 2: the wide adapter’s A');
    // B [out, r] → [out, R]: each output row's r values, then zeros.
    const b = feeds[rowLoraNames.B(Q)]!.data as Float32Array;
    assert.deepEqual(Array.from(b.subarray(0, 4)), [...Array.from(m.B.data.subarray(0, 2)), 0, 0]);
    assert.deepEqual(Array.from(feeds[rowLoraNames.scaling(Q)]!.data as Float32Array), [m.scaling, 0, wide.modules.get(Q)!.scaling]);
    // The small adapter has no v_proj: its row gets zeros there.
    const vB = feeds[rowLoraNames.B(V)]!.data as Float32Array;
    const vSize = vB.length / 3;
    assert.ok(vB.subarray(0, vSize).every((v) => v === 0));
    assert.deepEqual(Array.from(vB.subarray(2 * vSize)), Array.from(wide.modules.get(V)!.B.data));
    assert.deepEqual(pool.targets?.paths.filter((p) => p.startsWith('model.layers.0.')), [Q, V], 'targets in model order');
  });

  it('is cached while the rows and the layout stay, laid out again when they change, reset when empty', () => {
    const pool = new LoraPool(config);
    const first = randomLora(config, { r: 2, seed: 3, targetModules: ['q_proj'] });
    const second = randomLora(config, { r: 2, seed: 5, targetModules: ['q_proj'] });
    pool.acquire(first);
    pool.acquire(second);
    const before = pool.batchFeeds([first, second]);
    assert.equal(pool.batchFeeds([first, second]), before, 'the same rows: the same feeds, not a new layout');
    assert.notEqual(pool.batchFeeds([second, first]), before, 'other rows: another layout');
    const wider = randomLora(config, { r: 8, seed: 6, targetModules: ['q_proj'] });
    pool.acquire(wider);
    const after = pool.batchFeeds([first, second]);
    assert.deepEqual(after[rowLoraNames.A(Q)]!.shape, [2, 8, 16], 'a wider adapter widens the layout, so the same rows are laid out again');
    assert.throws(() => pool.batchFeeds([randomLora(config, { r: 2, seed: 7, targetModules: ['q_proj'] })]), /not in the pool/);
    for (const a of [first, second, wider]) pool.release(a);
    assert.equal(pool.size, 0);
    assert.equal(pool.targets, undefined, 'empty: the base graph');
    assert.throws(() => pool.release(first), /not in the pool/);
  });
});
