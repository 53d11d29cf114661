import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  createAdapterConfig,
  createPeftAdapter,
  randomCheckpoint,
  randomLora,
  randomModelConfig,
  saveCheckpoint,
  Tokenizer,
  trainByteLevelBpe,
  writePeftAdapter,
  type LinearModule,
  type ModelConfig,
} from '@palette/peft-core';
import type { TestApp } from '@palette/registry-api/testing/index';

/** A tiny random Llama-family base in Hugging Face layout, made by peft-core (seeded). */
export interface BaseFixture {
  readonly name: string;
  readonly config: ModelConfig;
  readonly files: Map<string, Buffer>;
}

export async function makeBase(name: string, seed: number): Promise<BaseFixture> {
  const tokenizerJson = trainByteLevelBpe('summarise german legal contracts\ntranslate recipes into french\n', 290);
  const vocabSize = 1 + Math.max(...Object.values(tokenizerJson.model.vocab), ...tokenizerJson.added_tokens.map((t) => t.id));
  // The tokenizer's own end-of-text id, so the router stops where the tokenizer says text ends.
  const eosTokenId = Tokenizer.fromJson(tokenizerJson).eosTokenId;
  const config = randomModelConfig({ vocabSize, maxPositionEmbeddings: 128, eosTokenId, bosTokenId: undefined });
  const dir = await mkdtemp(path.join(tmpdir(), 'console-base-'));
  try {
    await saveCheckpoint(dir, config, randomCheckpoint(config, seed), { dtype: 'F32' });
    await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    const files = new Map<string, Buffer>();
    for (const file of await readdir(dir)) files.set(file, await readFile(path.join(dir, file)));
    return { name, config, files };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** adapter_config.json + adapter_model.safetensors of a random LoRA (non-zero B) for `base`. */
export function makeAdapterFiles(base: BaseFixture, options: { r: number; seed: number; targetModules?: LinearModule[] }): { configJson: Buffer; safetensors: Buffer } {
  const targetModules = options.targetModules ?? ['q_proj', 'v_proj'];
  const weights = randomLora(base.config, { r: options.r, seed: options.seed, targetModules });
  const config = createAdapterConfig({ r: options.r, lora_alpha: options.r, target_modules: [...targetModules], base_model_name_or_path: base.name });
  const files = writePeftAdapter(createPeftAdapter(config, weights, { base: base.config }));
  return { configJson: Buffer.from(files.configJson), safetensors: Buffer.from(files.safetensors) };
}

export async function registerBase(registry: TestApp, base: BaseFixture): Promise<void> {
  let upload = registry.http.post('/api/v1/base-models').set('authorization', `Bearer ${registry.adminKey}`).field('name', base.name);
  for (const [file, bytes] of base.files) upload = upload.attach(file, bytes, file);
  const res = await upload;
  if (res.status !== 201) throw new Error(`base model upload answered ${res.status}: ${JSON.stringify(res.body)}`);
}

export async function registerAdapter(registry: TestApp, base: BaseFixture, name: string, description: string, seed: number): Promise<void> {
  const files = makeAdapterFiles(base, { r: 2, seed });
  const res = await registry.http
    .post('/api/v1/adapters')
    .set('authorization', `Bearer ${registry.adminKey}`)
    .field('name', name)
    .field('baseModel', base.name)
    .field('description', description)
    .attach('adapter_config', files.configJson, 'adapter_config.json')
    .attach('adapter_model', files.safetensors, 'adapter_model.safetensors');
  if (res.status !== 201) throw new Error(`adapter upload answered ${res.status}: ${JSON.stringify(res.body)}`);
}
