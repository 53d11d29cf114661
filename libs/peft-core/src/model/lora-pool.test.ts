import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomLora, randomModelConfig } from '../testing/random-model';
import { rowLoraNames } from './lora-inputs';
import { LoraPool } from './lora-pool';

const config = randomModelConfig({ hiddenSize: 16, numHeads: 4, numKvHeads: 2, intermediateSize: 24, vocabSize: 20 });
const Q = 'model.layers.0.self_attn.q_proj';

describe('LoraPool.batchFeeds (the per-row feeds of the decode graph)', () => {
  it("lays out each row's adapter from its slot, zeros for rows without one, padded to the pool's rank", () => {
    const pool = new LoraPool(config, 2);
    const small = randomLora(config, { r: 2, seed: 1, alpha: 4, targetModules: ['q_proj'] });
    const wide = randomLora(config, { r: 4, seed: 2, targetModules: ['q_proj', 'v_proj'] });
    pool.acquire(small);
    pool.acquire(wide); // wider and more modules: the pool re-stacks, so slots are read after
    const feeds = pool.batchFeeds([pool.slotOf(small), 0, pool.slotOf(wide)]);
    const A = feeds[rowLoraNames.A(Q)]!;
    assert.deepEqual(A.shape, [3, 4, 16], 'rank padded to the widest adapter');
    const a = A.data as Float32Array;
    const m = small.modules.get(Q)!;
    assert.deepEqual(Array.from(a.subarray(0, 2 * 16)), Array.from(m.A.data), 'row 0: the small adapter’s A');
    assert.ok(a.subarray(2 * 16, 4 * 16).every((v) => v === 0), 'its padded rank rows are zero');
    assert.ok(a.subarray(4 * 16, 8 * 16).every((v) => v === 0), 'row 1 (no adapter) is zero');
    assert.deepEqual(Array.from(a.subarray(8 * 16, 12 * 16)), Array.from(wide.modules.get(Q)!.A.data), 'row 2: the wide adapter’s A');
    assert.deepEqual(Array.from(feeds[rowLoraNames.scaling(Q)]!.data as Float32Array), [m.scaling, 0, wide.modules.get(Q)!.scaling]);
    // The small adapter has no v_proj: its row gets zeros there.
    const V = 'model.layers.0.self_attn.v_proj';
    const vB = feeds[rowLoraNames.B(V)]!.data as Float32Array;
    const vSize = vB.length / 3;
    assert.ok(vB.subarray(0, vSize).every((v) => v === 0));
    assert.deepEqual(Array.from(vB.subarray(2 * vSize)), Array.from(wide.modules.get(V)!.B.data));
  });

  it('is cached while the pool is unchanged and laid out again when a freed slot gets another adapter', () => {
    const pool = new LoraPool(config, 4);
    const first = randomLora(config, { r: 2, seed: 3, targetModules: ['q_proj'] });
    const keep = randomLora(config, { r: 2, seed: 4, targetModules: ['q_proj'] });
    const second = randomLora(config, { r: 2, seed: 5, targetModules: ['q_proj'] });
    pool.acquire(keep);
    const slot = pool.acquire(first);
    const before = pool.batchFeeds([slot]);
    assert.equal(pool.batchFeeds([slot]), before, 'the same rows and pool: the same feeds, not a new layout');
    pool.release(first);
    assert.equal(pool.acquire(second), slot, 'the freed slot is reused');
    const after = pool.batchFeeds([slot]);
    assert.notEqual(after, before);
    assert.deepEqual(Array.from(after[rowLoraNames.A(Q)]!.data as Float32Array), Array.from(second.modules.get(Q)!.A.data), 'the new adapter, not a stale layout');
    assert.throws(() => pool.batchFeeds([99]), /row slots \[99\] must lie in \[0, 4\)/);
  });
});
