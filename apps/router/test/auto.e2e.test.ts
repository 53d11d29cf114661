import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BaseModelTextEncoder,
  DEFAULT_LEXICAL_CONFIG,
  baseModelTextEncoderId,
  createAdapterConfig,
  createPeftAdapter,
  encoderLayoutFor,
  randomLora,
  trainRetriever,
  writePeftAdapter,
  writeRetrieverArtifact,
  type LinearModule,
  type LoraWeights,
  type RetrieverArtifact,
} from '@palette/peft-core';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { postJson, RouterWorld, type RouterHandle, type UploadedBase } from './support/router-world';

/**
 * The `auto` strategy through HTTP: a real registry-api in-process (no Redis: the catalog embeds
 * in-process) with three described adapters of one base, a retriever trained here on their
 * descriptions (base-model text encoder + lexical channel) and installed as the base's space; the
 * router answers `model: "auto"` / `"<base>:auto"` with a similarity-weighted `cat` mixture of the
 * registry's top hits, and reports it. The oracle is the same mixture requested explicitly.
 */
let world: RouterWorld;
let router: RouterHandle;
let base: UploadedBase;
let space: string;

const TARGETS: LinearModule[] = ['q_proj', 'v_proj'];
const ADAPTERS = [
  { name: 'fox-lora', description: 'The quick brown fox jumps over the lazy dog. A fox story.' },
  { name: 'contract-lora', description: 'Summarise the contract in plain words. Contract summaries.' },
  { name: 'german-lora', description: 'Translate the sentence into german please. German translation.' },
];

async function uploadDescribed(name: string, description: string, seed: number): Promise<LoraWeights> {
  const weights = randomLora(base.config, { r: 2, seed, targetModules: TARGETS });
  const files = writePeftAdapter(createPeftAdapter(createAdapterConfig({ r: 2, lora_alpha: 2, target_modules: TARGETS, base_model_name_or_path: base.name }), weights, { base: base.config }));
  const form = new FormData();
  form.set('name', name);
  form.set('baseModel', base.name);
  form.set('description', description);
  form.set('adapter_config', new Blob([files.configJson]), 'adapter_config.json');
  form.set('adapter_model', new Blob([new Uint8Array(files.safetensors)]), 'adapter_model.safetensors');
  await registryPost('/api/v1/adapters', form, 'writer');
  return weights;
}

async function registryPost(route: string, body: FormData | Record<string, unknown>, role: 'writer' | 'admin'): Promise<Record<string, unknown>> {
  const key = role === 'admin' ? world.registry.adminKey : await world.registry.keyFor('writer');
  const json = !(body instanceof FormData);
  const res = await fetch(`${world.registryUrl}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, ...(json ? { 'content-type': 'application/json' } : {}) },
    body: json ? JSON.stringify(body) : body,
  });
  if (res.status !== 201) throw new Error(`registry ${route} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** Trains a retriever on the adapters' description sentences with the base as text encoder (as the train-retriever job does). */
async function trainAndInstall(loras: LoraWeights[]): Promise<string> {
  const info = (await (await fetch(`${world.registryUrl}/api/v1/base-models/${base.name}`, { headers: { authorization: `Bearer ${world.readerKey}` } })).json()) as { files: { path: string; sha256: string }[] };
  const sha = info.files.find((f) => f.path === 'model.safetensors')!.sha256;
  const text = await BaseModelTextEncoder.create({ config: base.config, weights: base.weights, tokenizer: { encode: (s) => base.tokenizer.encode(s, { addSpecialTokens: false }) }, id: baseModelTextEncoderId(base.name, sha) });
  let artifact: RetrieverArtifact;
  try {
    artifact = await trainRetriever({
      adapters: ADAPTERS.map((a, i) => ({ id: a.name, weights: loras[i]!, descriptions: a.description.split('. ').map((s) => s.replace(/\.$/, '')) })),
      layout: encoderLayoutFor(base.config, TARGETS),
      textEncoder: text,
      options: { steps: 60, batchSize: 3, seed: 1, lr: 1e-2, lexical: { ...DEFAULT_LEXICAL_CONFIG, buckets: 256 }, encoder: { probes: 2, width: 16, heads: 2, ffnWidth: 32 } },
    });
  } finally {
    await text.dispose();
  }
  const form = new FormData();
  form.set('spec', JSON.stringify({ kind: 'retriever', name: 'auto-test', baseModel: base.name }));
  const dir = await mkdtemp(path.join(tmpdir(), 'auto-retriever-'));
  try {
    await writeRetrieverArtifact(dir, artifact);
    for (const f of ['retriever.json', 'retriever.safetensors']) form.set(f, new Blob([new Uint8Array(await readFile(path.join(dir, f)))]), f);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const uploaded = await registryPost('/api/v1/artifacts', form, 'writer');
  const installed = await registryPost('/api/v1/embedding-spaces', { artifactId: uploaded.id }, 'admin');
  assert.equal(installed.status, 'active');
  return installed.id as string;
}

before(async () => {
  world = await RouterWorld.start();
  base = await world.uploadBase({ name: 'tiny-a', seed: 7 });
  await world.uploadBase({ name: 'tiny-b', seed: 8 });
  const loras: LoraWeights[] = [];
  for (const [i, a] of ADAPTERS.entries()) loras.push(await uploadDescribed(a.name, a.description, 100 + i));
  space = await trainAndInstall(loras);
  router = await world.startRouter({ DEFAULT_BASE_MODEL: 'tiny-a', MAX_BATCH: '4' });
});

after(async () => {
  await world?.close();
});

interface AutoRoutingBody {
  strategy: string;
  base: string;
  space: string;
  merge: string;
  adapters: { id: string; weight: number; score: number }[];
}

describe('model "auto"', () => {
  it('retrieves the adapters for the prompt, weights them by similarity and serves their cat mixture', async () => {
    const res = await postJson(`${router.url}/v1/completions`, { model: 'auto', prompt: 'please translate this sentence into german', max_tokens: 6, temperature: 0 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const routing = res.body.routing as AutoRoutingBody;
    assert.equal(routing.strategy, 'auto');
    assert.equal(routing.base, 'tiny-a');
    assert.equal(routing.space, space);
    assert.equal(routing.merge, 'cat');
    assert.equal(routing.adapters.length, 3);
    assert.equal(routing.adapters[0]!.id, 'german-lora@v1');
    assert.ok(Math.abs(routing.adapters.reduce((s, a) => s + a.weight, 0) - 1) < 1e-9);
    assert.ok(routing.adapters.every((a, i) => i === 0 || (a.score <= routing.adapters[i - 1]!.score && a.weight <= routing.adapters[i - 1]!.weight)));
    assert.equal(res.headers.get('x-adapter-id'), routing.adapters.map((a) => a.id).join(','));

    // The oracle: the same cat mixture, asked for explicitly.
    const explicit = await postJson(`${router.url}/v1/completions`, { model: 'tiny-a', prompt: 'please translate this sentence into german', max_tokens: 6, temperature: 0, adapters: routing.adapters.map((a) => ({ id: a.id, weight: a.weight })), merge: 'cat' });
    assert.equal(explicit.status, 200, JSON.stringify(explicit.body));
    assert.equal((res.body.choices as { text: string }[])[0]!.text, (explicit.body.choices as { text: string }[])[0]!.text);

    const fox = await postJson(`${router.url}/v1/chat/completions`, { model: 'tiny-a:auto', messages: [{ role: 'user', content: 'tell me about the quick brown fox' }], max_tokens: 4, temperature: 0 });
    assert.equal(fox.status, 200, JSON.stringify(fox.body));
    assert.equal((fox.body.routing as AutoRoutingBody).adapters[0]!.id, 'fox-lora@v1');
  });

  it('answers OpenAI-shaped errors: no space for the base (409), an unknown base (404), auto with explicit adapters (400)', async () => {
    const none = await postJson(`${router.url}/v1/completions`, { model: 'tiny-b:auto', prompt: 'hello', max_tokens: 2 });
    assert.equal(none.status, 409, JSON.stringify(none.body));
    const error = none.body.error as { message: string; type: string; param: string };
    assert.match(error.message, /model 'auto' is not available for base 'tiny-b'.*no active embedding space/);
    assert.equal(error.type, 'invalid_request_error');
    assert.equal(error.param, 'model');
    const unknown = await postJson(`${router.url}/v1/completions`, { model: 'nope:auto', prompt: 'hello', max_tokens: 2 });
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    assert.equal((unknown.body.error as { code: string }).code, 'model_not_found');
    const mixed = await postJson(`${router.url}/v1/completions`, { model: 'auto', prompt: 'hello', max_tokens: 2, adapters: [{ id: 'fox-lora', weight: 1 }] });
    assert.equal(mixed.status, 400, JSON.stringify(mixed.body));
    assert.equal((mixed.body.error as { param: string }).param, 'adapters');
  });
});
