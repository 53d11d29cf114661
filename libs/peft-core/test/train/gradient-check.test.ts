/**
 * The whole model's training gradients against finite differences: LoRA A and B of every targeted
 * module (and, for pretraining, base weights) on a tiny Llama, plus the loss against the f64
 * reference. The training graph runs in f32; finite differences are taken on the f64 reference loss
 * (central, h = 1e-3), so the FD values are accurate to ~1e-7 and the tolerance is the graph's f32 error.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clearSessionCache } from '@palette/gpu-kernels';
import { referenceLoss } from '../../src/reference/llama-reference';
import { randomCheckpoint, randomLora, randomModelConfig } from '../../src/testing/random-model';
import { collate, type TokenizedExample } from '../../src/train/data';
import { loraParamName, TrainingGraph } from '../../src/train/train-graph';
import type { LoraWeights } from '../../src/lora/adapter';
import { Rng } from '../../src/util/rng';

const config = randomModelConfig();
const base = randomCheckpoint(config, 11);
const lora = randomLora(config, { r: 2, alpha: 4, seed: 5 });
const modules = [...lora.modules.keys()];
const scaling = [...lora.modules.values()][0]!.scaling;

// Two rows: a prompt/completion row (targets only on the completion) and a shorter text row (padded).
const rows: TokenizedExample[] = [
  { ids: [1, 5, 9, 3, 17, 22, 8, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1] },
  { ids: [1, 30, 4, 12, 2], lossMask: [0, 1, 1, 1, 1] },
];
const SEQ = 8;
const PAD = 0;
const batch = collate(rows, SEQ, PAD);
const tokens = [0, 1].map((b) => Array.from(batch.inputIds.subarray(b * SEQ, (b + 1) * SEQ), Number));
const lossMask = rows.map((r) => Array.from({ length: SEQ }, (_, t) => (t < r.ids.length ? r.lossMask[t]! : 0)));

function loraParams(weights: LoraWeights): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const m of weights.modules.values()) {
    out.set(loraParamName(m.path, 'A'), m.A.data);
    out.set(loraParamName(m.path, 'B'), m.B.data);
  }
  return out;
}

/** The f64 reference loss with one f32 entry replaced. */
function withEntry(data: Float32Array, index: number, value: number, f: () => number): number {
  const saved = data[index]!;
  data[index] = value;
  try {
    return f();
  } finally {
    data[index] = saved;
  }
}

/** Central difference of f w.r.t. data[index], with the exact f32 steps actually taken. */
function centralDifference(data: Float32Array, index: number, f: () => number, h = 1e-3): number {
  const x = data[index]!;
  const up = Math.fround(x + h);
  const down = Math.fround(x - h);
  return (withEntry(data, index, up, f) - withEntry(data, index, down, f)) / (up - down);
}

describe('training graph: loss and gradients of the whole model', () => {
  after(() => clearSessionCache());

  it('LoRA mode: loss matches referenceLoss and dL/dA, dL/dB match finite differences in every module', async () => {
    const graph = await TrainingGraph.compile({ config, base, trainable: { kind: 'lora', modules, rank: 2, scaling }, batchSize: 2, seqLen: SEQ });
    try {
      const params = loraParams(lora);
      const { loss, grads } = await graph.run(batch, params);
      const ref = referenceLoss(config, base, tokens, { lora, lossMask });
      assert.ok(Math.abs(loss - ref) < 1e-5 * Math.max(1, ref), `graph loss ${loss} vs reference ${ref}`);
      assert.equal(await graph.evaluate(batch, params), loss, 'the loss-only graph gives the same loss');

      const rng = new Rng(2);
      let checked = 0;
      let worst = 0;
      for (const path of modules) {
        for (const factor of ['A', 'B'] as const) {
          const name = loraParamName(path, factor);
          const data = params.get(name)!;
          const g = grads.get(name)!;
          assert.equal(g.length, data.length, `${name}: gradient size`);
          for (let k = 0; k < 2; k++) {
            const i = rng.int(data.length);
            const fd = centralDifference(data, i, () => referenceLoss(config, base, tokens, { lora, lossMask }));
            const err = Math.abs(g[i]! - fd);
            worst = Math.max(worst, err / (1e-4 + Math.abs(fd)));
            assert.ok(err <= 2e-5 + 2e-3 * Math.abs(fd), `${name}[${i}]: graph ${g[i]} vs finite difference ${fd}`);
            checked++;
          }
        }
      }
      assert.equal(checked, modules.length * 4);
      // Sanity: the gradients are not trivially zero.
      const norm = Math.hypot(...[...grads.values()].flatMap((g) => Array.from(g)));
      assert.ok(norm > 1e-3, `gradient norm ${norm}`);
      console.log(`  checked ${checked} LoRA entries over ${modules.length} modules; worst relative error ${worst.toExponential(2)}`);
    } finally {
      await graph.dispose();
    }
  });

  it('full mode: gradients of base weights (embedding, norms, projections, lm_head) match finite differences', async () => {
    const names = [...base.keys()];
    const graph = await TrainingGraph.compile({ config, base, trainable: { kind: 'weights', names }, batchSize: 2, seqLen: SEQ });
    try {
      const params = new Map(names.map((n) => [n, base.get(n)!.data]));
      const { loss, grads } = await graph.run(batch, params);
      const ref = referenceLoss(config, base, tokens, { lossMask });
      assert.ok(Math.abs(loss - ref) < 1e-5 * Math.max(1, ref), `graph loss ${loss} vs reference ${ref}`);
      const rng = new Rng(3);
      for (const name of ['model.embed_tokens.weight', 'model.layers.0.input_layernorm.weight', 'model.layers.1.self_attn.k_proj.weight', 'model.layers.0.mlp.down_proj.weight', 'model.norm.weight', 'lm_head.weight']) {
        const data = base.get(name)!.data;
        const g = grads.get(name)!;
        // Embedding rows of tokens not in the batch get no gradient: pick from rows that occur.
        const candidates = name === 'model.embed_tokens.weight' ? [5, 17, 30].flatMap((tok) => [tok * config.hiddenSize, tok * config.hiddenSize + 7]) : [rng.int(data.length), rng.int(data.length)];
        for (const i of candidates) {
          const fd = centralDifference(data, i, () => referenceLoss(config, base, tokens, { lossMask }));
          assert.ok(Math.abs(g[i]! - fd) <= 2e-5 + 2e-3 * Math.abs(fd), `${name}[${i}]: graph ${g[i]} vs finite difference ${fd}`);
        }
      }
    } finally {
      await graph.dispose();
    }
  });

  it('the loss ignores prompt tokens and padding (changing them only through attention context)', async () => {
    const graph = await TrainingGraph.compile({ config, base, trainable: { kind: 'lora', modules, rank: 2, scaling }, batchSize: 2, seqLen: SEQ });
    try {
      const params = loraParams(lora);
      // Same rows, different padding id: padded positions come after every real token (causal), so nothing changes.
      const a = await graph.evaluate(collate(rows, SEQ, 0), params);
      const b = await graph.evaluate(collate(rows, SEQ, 29), params);
      assert.ok(Math.abs(a - b) < 1e-6, `padding changed the loss: ${a} vs ${b}`);
      // Making a prompt token a target changes the mean.
      const widened = [{ ...rows[0]!, lossMask: [0, 1, 1, 1, 1, 1, 1, 1] }, rows[1]!];
      const c = await graph.evaluate(collate(widened, SEQ, 0), params);
      assert.ok(Math.abs(a - c) > 1e-4, 'prompt masking had no effect');
    } finally {
      await graph.dispose();
    }
  });
  it('passes session settings through: a profiled step writes traces for the step and the eval sessions', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'train-profile-'));
    const graph = await TrainingGraph.compile({ config, base, trainable: { kind: 'lora', modules, rank: 2, scaling }, batchSize: 2, seqLen: SEQ, session: { profilePrefix: path.join(dir, 'p_'), allowSpinning: false } });
    try {
      const params = loraParams(lora);
      await graph.run(batch, params);
      await graph.evaluate(batch, params);
      const files = graph.endProfiling();
      assert.ok(files.step?.includes('p_step_') && files.evaluate?.includes('p_eval_'), JSON.stringify(files));
      const stepOps = new Set((JSON.parse(readFileSync(files.step!, 'utf8')) as { args?: { op_name?: string } }[]).map((e) => e.args?.op_name));
      assert.ok(stepOps.has('LogSoftmax') && stepOps.has('ScatterElements'), 'the step runs the fused cross-entropy and its gradient');
    } finally {
      await graph.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
