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
import { createRouterArtifact, encodeRouterArtifact } from '@palette/peft-core/routing/router-artifact';
import { hostTensor } from '@palette/peft-core/tensor/host-tensor';
import { Rng } from '@palette/peft-core/util/rng';
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

export async function registerAdapter(registry: TestApp, base: BaseFixture, name: string, description: string, seed: number, tags: readonly string[] = []): Promise<void> {
  const files = makeAdapterFiles(base, { r: 2, seed });
  let req = registry.http
    .post('/api/v1/adapters')
    .set('authorization', `Bearer ${registry.adminKey}`)
    .field('name', name)
    .field('baseModel', base.name)
    .field('description', description);
  if (tags.length > 0) req = req.field('tags', tags.join(','));
  const res = await req.attach('adapter_config', files.configJson, 'adapter_config.json').attach('adapter_model', files.safetensors, 'adapter_model.safetensors');
  if (res.status !== 201) throw new Error(`adapter upload answered ${res.status}: ${JSON.stringify(res.body)}`);
}

/**
 * router.json + router.safetensors of a MeteoRA router over `experts` ("name@vN") of `base`, made
 * with peft-core's own writer (as registry-api's artifact tests do): one random gate [experts,
 * hidden] on each module the experts adapt, so the real router can also serve it.
 */
export function makeRouterFiles(base: BaseFixture, experts: readonly string[], seed = 3): Map<string, Buffer> {
  const rng = new Rng(seed);
  // The gated modules must be exactly those the experts adapt (makeAdapterFiles' default q_proj, v_proj).
  const targets = Array.from({ length: base.config.numLayers }, (_, i) => [`model.layers.${i}.self_attn.q_proj`, `model.layers.${i}.self_attn.v_proj`]).flat();
  const n = experts.length;
  const gate = () => hostTensor([n, base.config.hiddenSize], Float32Array.from({ length: n * base.config.hiddenSize }, () => rng.normal() * 0.1));
  const artifact = createRouterArtifact(
    { kind: 'meteora', baseModel: base.name, experts: [...experts], targets, hyperparameters: { topK: Math.min(2, n), temperature: 1, auxLossWeight: 1 }, metrics: { gateAccuracy: 0.875 } },
    new Map(targets.map((t) => [`gate.${t}`, gate()])),
  );
  const encoded = encodeRouterArtifact(artifact);
  return new Map([
    ['router.json', Buffer.from(encoded.manifest)],
    ['router.safetensors', Buffer.from(encoded.tensors)],
  ]);
}

/** POST /api/v1/artifacts (multipart: `spec` + one part per file, named by the file). */
export async function uploadArtifact(registry: TestApp, spec: Record<string, unknown>, files: ReadonlyMap<string, Buffer>): Promise<{ id: string; name: string; version: number }> {
  let req = registry.http.post('/api/v1/artifacts').set('authorization', `Bearer ${registry.adminKey}`).field('spec', JSON.stringify(spec));
  for (const [name, bytes] of files) req = req.attach(name, bytes, name);
  const res = await req;
  if (res.status !== 201) throw new Error(`artifact upload answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as { id: string; name: string; version: number };
}
