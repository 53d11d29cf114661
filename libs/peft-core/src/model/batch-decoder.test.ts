import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { LoraWeights } from '../lora/adapter';
import { randomCheckpoint, randomLora, randomModelConfig } from '../testing/random-model';
import { KvCache } from './kv-cache';
import { LlamaModel } from './llama-model';

const config = randomModelConfig({ vocabSize: 40, eosTokenId: 2 });
const weights = randomCheckpoint(config, 31);
const model = LlamaModel.create({ config, weights });
after(() => model.dispose());

const adapters: LoraWeights[] = [
  randomLora(config, { r: 2, seed: 1 }),
  randomLora(config, { r: 8, seed: 2, alpha: 16 }),
  randomLora(config, { r: 4, seed: 3, targetModules: ['q_proj', 'v_proj'] }),
  randomLora(config, { r: 3, seed: 4, targetModules: ['down_proj'], layers: [1] }),
];

interface Job {
  readonly prompt: number[];
  readonly lora?: LoraWeights;
  readonly joinAt: number;
  readonly tokens: number;
}

/** Runs jobs through one BatchDecoder, joining each at its step, and returns every job's tokens. */
async function runContinuous(jobs: readonly Job[]): Promise<number[][]> {
  const decoder = model.batchDecoder();
  const outputs: number[][] = jobs.map(() => []);
  const rowOf = new Map<number, number>();
  let step = 0;
  let done = 0;
  while (done < jobs.length) {
    const joining = jobs.map((j, i) => [j, i] as const).filter(([j]) => j.joinAt === step);
    const first = await decoder.admit(joining.map(([j]) => ({ prompt: j.prompt, ...(j.lora ? { lora: j.lora } : {}) })));
    first.forEach((t, k) => {
      rowOf.set(t.id, joining[k]![1]);
      outputs[joining[k]![1]]!.push(t.token);
    });
    const finished = (): number[] => decoder.rowIds.filter((id) => outputs[rowOf.get(id)!]!.length >= jobs[rowOf.get(id)!]!.tokens);
    let leaving = finished();
    done += leaving.length;
    decoder.release(leaving);
    if (decoder.size > 0) {
      for (const t of await decoder.step()) outputs[rowOf.get(t.id)!]!.push(t.token);
      leaving = finished();
      done += leaving.length;
      decoder.release(leaving);
    }
    step += 1;
  }
  assert.equal(decoder.size, 0);
  return outputs;
}

describe('BatchDecoder (continuous batching, heterogeneous adapters)', () => {
  it('rows that join at different steps with different adapters and ranks decode exactly as they do alone', async () => {
    const jobs: Job[] = [
      { prompt: [1, 7, 9, 11, 3], lora: adapters[0], joinAt: 0, tokens: 6 },
      { prompt: [1, 30], joinAt: 0, tokens: 3 },
      { prompt: [1, 4, 4, 8, 5, 6, 7, 12, 13], lora: adapters[1], joinAt: 2, tokens: 5 },
      { prompt: [1, 22, 5], lora: adapters[2], joinAt: 2, tokens: 7 },
      { prompt: [1, 9], lora: adapters[3], joinAt: 4, tokens: 4 },
      { prompt: [1, 3, 3, 3], lora: adapters[0], joinAt: 5, tokens: 4 },
    ];
    const batched = await runContinuous(jobs);
    for (const [i, job] of jobs.entries()) {
      const alone = await model.generate(job.prompt, { maxNewTokens: job.tokens, stopTokenIds: [], ...(job.lora ? { lora: job.lora } : {}) });
      assert.deepEqual(batched[i], alone.tokens, `job ${i}`);
    }
  });

  it('compiles one graph per LoRA target set, never per adapter', async () => {
    const before = model.compileCount;
    await runContinuous([
      { prompt: [1, 5], lora: adapters[0], joinAt: 0, tokens: 2 },
      { prompt: [1, 6], lora: adapters[1], joinAt: 1, tokens: 2 },
      { prompt: [1, 7], lora: randomLora(config, { r: 5, seed: 9 }), joinAt: 1, tokens: 2 },
    ]);
    assert.equal(model.compileCount, before, 'all-linear adapters reuse the graph compiled by the first test');
  });

  it('samples each row from its own seed, as generate does', async () => {
    const decoder = model.batchDecoder();
    const sampling = { temperature: 0.9, topK: 10 };
    const rows = await decoder.admit([
      { prompt: [1, 8, 9], seed: 5, sampling, lora: adapters[1] },
      { prompt: [1, 2, 3, 4], seed: 6, sampling },
    ]);
    const out = rows.map((r) => [r.token]);
    for (let k = 0; k < 4; k++) (await decoder.step()).forEach((t, i) => out[i]!.push(t.token));
    const a = await model.generate([1, 8, 9], { maxNewTokens: 5, seed: 5, ...sampling, stopTokenIds: [], lora: adapters[1] });
    const b = await model.generate([1, 2, 3, 4], { maxNewTokens: 5, seed: 6, ...sampling, stopTokenIds: [] });
    assert.deepEqual(out, [a.tokens, b.tokens]);
  });

  it('refuses overlapping calls and bad prompts', async () => {
    const decoder = model.batchDecoder();
    await assert.rejects(decoder.admit([{ prompt: [] }]), /at least one token/);
    await assert.rejects(decoder.admit([{ prompt: [1, 99] }]), /outside the vocabulary/);
    const pending = decoder.admit([{ prompt: [1, 2] }]);
    await assert.rejects(decoder.step(), /must not overlap/);
    await pending;
    assert.equal(decoder.size, 1);
  });
});

describe('KvCache.addRows / dropLeadingSlots', () => {
  const fill = (seq: number, rows: number, base: number): Float32Array => Float32Array.from({ length: seq * rows * 2 }, (_, i) => base + i);
  it('right-aligns new rows and pads the shorter side with zero slots', () => {
    const cache = new KvCache(1, 1, 1, 2, 4);
    cache.append([fill(2, 1, 1)], [fill(2, 1, 1)], 2); // one row, 2 slots: [1,2] [3,4]
    const placed = cache.addRows([fill(3, 2, 100)], [fill(3, 2, 100)], 3, 2);
    assert.deepEqual(placed, { existingShift: 1, newRowsStart: 0 });
    assert.equal(cache.batch, 3);
    assert.equal(cache.length, 3);
    const keys = Array.from(cache.feeds()['past.0.key']!.data as Float32Array);
    // slot-major [slot][row][2]: row 0 is padded by one slot, rows 1-2 are the new prefill
    assert.deepEqual(keys, [0, 0, 100, 101, 102, 103, 1, 2, 104, 105, 106, 107, 3, 4, 108, 109, 110, 111]);
    cache.keepRows([0, 2]);
    cache.dropLeadingSlots(1);
    assert.deepEqual(Array.from(cache.feeds()['past.0.key']!.data as Float32Array), [1, 2, 106, 107, 3, 4, 110, 111]);
    assert.throws(() => cache.dropLeadingSlots(5), /not in \[0, 2\]/);
  });
});
