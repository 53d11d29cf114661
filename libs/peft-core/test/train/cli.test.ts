import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { clearSessionCache } from '@palette/gpu-kernels';
import { runCli } from '../../src/cli/main';
import { loadCheckpoint, saveCheckpoint } from '../../src/formats/checkpoint';
import { readPeftAdapterDir } from '../../src/formats/peft-adapter';
import { readSafetensors } from '../../src/formats/safetensors';
import { randomCheckpoint, randomModelConfig } from '../../src/testing/random-model';
import { trainByteLevelBpe } from '../../src/tokenizer';

interface Captured {
  code: number;
  out: string[];
  err: string[];
}

async function cli(...argv: string[]): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

describe('palette CLI', () => {
  let dir: string;
  let model: string;
  let data: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'palette-cli-'));
    model = path.join(dir, 'model');
    const corpus = ['abc>cba', 'hello world', 'dog>god'];
    const tokenizerJson = trainByteLevelBpe(corpus, 262);
    const config = randomModelConfig({ vocabSize: 262, bosTokenId: undefined, eosTokenId: 0 });
    await saveCheckpoint(model, config, randomCheckpoint(config, 1), { dtype: 'F32' });
    await writeFile(path.join(model, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    data = path.join(dir, 'train.jsonl');
    const lines = ['abc', 'dog', 'cat', 'bed', 'fig', 'hat', 'ice', 'jam'].map((w) => JSON.stringify({ prompt: `${w}>`, completion: [...w].reverse().join('') }));
    await writeFile(data, lines.join('\n') + '\n');
  });

  after(async () => {
    await clearSessionCache();
    await rm(dir, { recursive: true, force: true });
  });

  it('inspect: a model directory, a safetensors file; bad paths fail with exit code 2', async () => {
    const m = await cli('inspect', model);
    assert.equal(m.code, 0, m.err.join('\n'));
    assert.match(m.out.join('\n'), /llama decoder[\s\S]*layers 2, hidden 16[\s\S]*vocab 262[\s\S]*tokenizer tokenizer\.json/);
    const f = await cli('inspect', path.join(model, 'model.safetensors'));
    assert.equal(f.code, 0);
    assert.match(f.out.join('\n'), /model\.embed_tokens\.weight {2}F32 {2}\[262, 16\]/);
    const bad = await cli('inspect', dir);
    assert.equal(bad.code, 2);
    assert.equal((await cli('frobnicate')).code, 2);
    assert.match((await cli('train', '--model', model, '--bogus', '1')).err.join(''), /unknown option --bogus/);
  });

  it('train: a bad dataset line fails naming the file and the line', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    await writeFile(bad, '{"prompt":"a>","completion":"a"}\n{"text":"mixed formats"}\n');
    const t = await cli('train', '--model', model, '--data', bad, '--out', path.join(dir, 'never'), '--steps', '1');
    assert.notEqual(t.code, 0);
    assert.match(t.err.join('\n'), /bad\.jsonl: line 2: /);
  });

  it('train → adapter dir (PEFT layout), inspect it, generate with it, merge it', async () => {
    const out = path.join(dir, 'adapter');
    const t = await cli('train', '--model', model, '--data', data, '--out', out, '--steps', '4', '--batch-size', '4', '--lr', '1e-2', '--r', '4', '--alpha', '8', '--targets', 'q_proj,v_proj', '--eval-fraction', '0.25', '--seed', '3');
    assert.equal(t.code, 0, t.err.join('\n'));
    assert.equal(t.err.filter((l) => l.startsWith('step ')).length, 4, 'one progress line per step');
    assert.match(t.err[1]!, /^step 1\/4 {2}loss \d+\.\d{4} {2}lr .* tok\/s {2}eta \d+s/);
    const summary = JSON.parse(t.out[0]!) as { steps: number; evalLoss: number };
    assert.equal(summary.steps, 4);
    assert.ok(Number.isFinite(summary.evalLoss));
    const adapter = await readPeftAdapterDir(out);
    assert.equal(adapter.config.r, 4);
    assert.equal(adapter.weights.modules.size, 4, 'q_proj and v_proj in 2 layers');

    const i = await cli('inspect', out);
    assert.match(i.out.join('\n'), /PEFT LoRA adapter[\s\S]*r 4, lora_alpha 8[\s\S]*modules 4/);

    const g1 = await cli('generate', '--model', model, '--prompt', 'abc>', '--max-tokens', '5');
    const g2 = await cli('generate', '--model', model, '--adapter', out, '--prompt', 'abc>', '--max-tokens', '5');
    assert.equal(g1.code, 0, g1.err.join('\n'));
    assert.equal(g2.code, 0, g2.err.join('\n'));
    assert.match(g1.err[0]!, /\[\d+ tokens, finish: (stop|length)\]/);

    const merged = path.join(dir, 'merged');
    const mg = await cli('merge', '--model', model, '--adapter', out, '--out', merged);
    assert.equal(mg.code, 0, mg.err.join('\n'));
    // The merged model generates what base + adapter generates.
    const g3 = await cli('generate', '--model', merged, '--prompt', 'abc>', '--max-tokens', '5');
    assert.deepEqual(g3.out, g2.out);
    const base = await loadCheckpoint(model);
    const m = await loadCheckpoint(merged);
    assert.notDeepEqual(m.weights.get('model.layers.0.self_attn.q_proj.weight')!.data, base.weights.get('model.layers.0.self_attn.q_proj.weight')!.data);
    assert.deepEqual(m.weights.get('model.layers.0.self_attn.k_proj.weight')!.data, base.weights.get('model.layers.0.self_attn.k_proj.weight')!.data);
  });

  it('train --mode full writes a Hugging Face checkpoint with the tokenizer', async () => {
    const out = path.join(dir, 'pretrained');
    const t = await cli('train', '--model', model, '--data', data, '--out', out, '--mode', 'full', '--steps', '2', '--batch-size', '4', '--dtype', 'bf16');
    assert.equal(t.code, 0, t.err.join('\n'));
    const ck = await loadCheckpoint(out);
    assert.equal(ck.config.torchDtype, 'bfloat16');
    assert.ok((await readFile(path.join(out, 'tokenizer.json'))).length > 0);
  });

  it('convert: f32 → f16 and back keeps names and shapes', async () => {
    const f16 = path.join(dir, 'model-f16.safetensors');
    const c = await cli('convert', '--in', path.join(model, 'model.safetensors'), '--out', f16, '--dtype', 'f16');
    assert.equal(c.code, 0, c.err.join('\n'));
    const src = readSafetensors(new Uint8Array(await readFile(path.join(model, 'model.safetensors'))));
    const dst = readSafetensors(new Uint8Array(await readFile(f16)));
    assert.deepEqual([...dst.tensors.keys()].sort(), [...src.tensors.keys()].sort());
    for (const [name, t] of dst.tensors) {
      assert.equal(t.dtype, 'F16');
      assert.deepEqual(t.shape, src.tensors.get(name)!.shape);
    }
    assert.equal((await cli('convert', '--in', f16, '--out', f16 + '.x', '--dtype', 'f8')).code, 2);
  });
});
