/**
 * Throughput of the ONNX-executed Llama model: forward tokens/s (one full-logits pass over a
 * batch) and decode tokens/s with the KV cache at batch 1 and 32, for a ~10M and a ~100M model,
 * with frozen weights baked as initializers vs fed as inputs, and with per-row LoRA (pool).
 *
 *   node tools/run-ts.js libs/peft-core/bench/model-forward.bench.ts [--sizes 10m,100m] [--device cpu] [--threads N] [--json out.json]
 *
 * Weights are random (randomCheckpoint): speed does not depend on their values.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { ModelConfig } from '../src/formats/model-config';
import type { LoraWeights } from '../src/lora/adapter';
import { LlamaModel, type LlamaModelOptions } from '../src/model/llama-model';
import { randomCheckpoint, randomLora, randomModelConfig } from '../src/testing/random-model';

const SIZES: Record<string, ModelConfig> = {
  '10m': randomModelConfig({ hiddenSize: 256, numLayers: 6, numHeads: 8, numKvHeads: 4, headDim: 32, intermediateSize: 768, vocabSize: 8192, maxPositionEmbeddings: 2048 }),
  '100m': randomModelConfig({ hiddenSize: 768, numLayers: 12, numHeads: 12, numKvHeads: 4, headDim: 64, intermediateSize: 2048, vocabSize: 16384, maxPositionEmbeddings: 2048 }),
};

interface Row {
  model: string;
  params: number;
  weights: string;
  case: string;
  batch: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

function paramCount(weights: ReadonlyMap<string, { data: Float32Array }>): number {
  let n = 0;
  for (const t of weights.values()) n += t.data.length;
  return n;
}

function prompts(batch: number, length: number, vocab: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from({ length: length - (b % 4) }, (_, t) => (b * 7919 + t * 104729) % vocab));
}

/** Forward tokens/s over batch × seq tokens (full logits), best of `repeats` after a warm-up. */
async function benchForward(model: LlamaModel, batch: number, seq: number, repeats: number, lora?: readonly (LoraWeights | undefined)[]): Promise<{ tokens: number; seconds: number }> {
  const tokens = Array.from({ length: batch }, (_, b) => Array.from({ length: seq }, (_, t) => (b * 31 + t * 17) % model.config.vocabSize));
  const options = lora ? { lora } : {};
  await model.forward(tokens, options);
  let best = Infinity;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await model.forward(tokens, options);
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return { tokens: batch * seq, seconds: best };
}

/** Decode tokens/s: generated tokens after the prefill over the time after the prefill. */
async function benchDecode(model: LlamaModel, batch: number, promptLength: number, newTokens: number, lora?: readonly (LoraWeights | undefined)[]): Promise<{ tokens: number; seconds: number; prefillSeconds: number }> {
  const batchPrompts = prompts(batch, promptLength, model.config.vocabSize);
  const run = async (): Promise<{ tokens: number; seconds: number; prefillSeconds: number }> => {
    let firstLogitsAt = 0;
    let seen = 0;
    const t0 = performance.now();
    await model.generate(batchPrompts, {
      maxNewTokens: newTokens,
      stopTokenIds: [],
      ...(lora ? { lora } : {}),
      onLogits: () => {
        if (seen++ === batch - 1) firstLogitsAt = performance.now();
      },
    });
    const end = performance.now();
    return { tokens: batch * (newTokens - 1), seconds: (end - firstLogitsAt) / 1000, prefillSeconds: (firstLogitsAt - t0) / 1000 };
  };
  await model.generate(batchPrompts.slice(0, batch), { maxNewTokens: 2, stopTokenIds: [], ...(lora ? { lora } : {}) }); // compile + warm-up
  return run();
}

async function main(): Promise<void> {
  const sizes = arg('sizes', '10m,100m').split(',');
  const device = arg('device', 'cpu');
  const threads = arg('threads', '');
  const jsonOut = arg('json', '');
  const rows: Row[] = [];
  const report = (r: Row): void => {
    rows.push(r);
    console.log(
      `${r.model.padEnd(5)} ${r.weights.padEnd(12)} ${r.case.padEnd(38)} batch ${String(r.batch).padStart(2)}  ${r.tokensPerSecond.toFixed(1).padStart(9)} tok/s  (${r.tokens} tokens in ${r.seconds.toFixed(3)} s)`,
    );
  };
  for (const size of sizes) {
    const config = SIZES[size];
    if (config === undefined) throw new Error(`unknown size ${size} (known: ${Object.keys(SIZES).join(', ')})`);
    const weights = randomCheckpoint(config, 1);
    const params = paramCount(weights);
    console.log(`# ${size}: ${(params / 1e6).toFixed(1)}M parameters, hidden ${config.hiddenSize}, ${config.numLayers} layers, vocab ${config.vocabSize}`);
    const adapters = Array.from({ length: 32 }, (_, seed) => randomLora(config, { r: 8, alpha: 16, seed }));
    for (const baseWeights of ['initializers', 'inputs'] as const) {
      const options: LlamaModelOptions = { device, baseWeights, ...(threads ? { intraOpThreads: Number(threads) } : {}) };
      const model = LlamaModel.create({ config, weights }, options);
      const add = (name: string, batch: number, m: { tokens: number; seconds: number }): void =>
        report({ model: size, params, weights: baseWeights, case: name, batch, tokens: m.tokens, seconds: m.seconds, tokensPerSecond: m.tokens / m.seconds });
      const t0 = performance.now();
      add('forward seq 128', 4, await benchForward(model, 4, 128, 3));
      console.log(`  (first forward incl. compile: ${((performance.now() - t0) / 1000).toFixed(2)} s)`);
      for (const batch of [1, 32]) {
        const d = await benchDecode(model, batch, 32, 33);
        add('decode (prompt 32, +32)', batch, d);
        add('prefill (prompt ≤32)', batch, { tokens: batch * 32, seconds: d.prefillSeconds });
      }
      if (baseWeights === 'initializers') {
        add('decode single LoRA r8', 1, await benchDecode(model, 1, 32, 33, [adapters[0]]));
        add('decode pool r8, 4 adapters (dense)', 32, await benchDecode(model, 32, 32, 33, Array.from({ length: 32 }, (_, b) => adapters[b % 4])));
        add('decode pool r8, 32 adapters (gather)', 32, await benchDecode(model, 32, 32, 33, adapters));
        add('forward pool r8, 4 adapters (gather)', 4, await benchForward(model, 4, 128, 3, adapters.slice(0, 4)));
      }
      await model.dispose();
    }
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(rows, null, 2));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
