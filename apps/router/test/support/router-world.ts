import { mkdtempSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import {
  createAdapterConfig,
  createPeftAdapter,
  LINEAR_MODULES,
  randomCheckpoint,
  randomLora,
  randomModelConfig,
  saveCheckpoint,
  Tokenizer,
  trainByteLevelBpe,
  writePeftAdapter,
  type HostTensor,
  type LinearModule,
  type LoraWeights,
  type ModelConfig,
} from '@palette/peft-core';
import { createTestApp, type TestApp } from '@palette/registry-api/testing/index';
import { createRouterApp } from '../../src/app.module';
import { loadRouterConfig } from '../../src/config/router-config';

/**
 * A real registry-api (booted in-process with its createTestApp, listening on a local port) holding
 * tiny base models and adapters uploaded through its HTTP API, plus routers pointed at it. Tests and
 * the bench share it; everything is seeded, so the same arguments give the same weights.
 */

const CORPUS = [
  'the quick brown fox jumps over the lazy dog',
  'summarise the contract in plain words',
  'translate the sentence into german please',
  'adapters mix per request in one batch',
  'hello world, hello router, hello registry',
].join('\n');

export interface BaseSpec {
  readonly name: string;
  readonly seed: number;
  readonly dims?: Partial<ModelConfig>;
}

export interface UploadedBase {
  readonly name: string;
  readonly config: ModelConfig;
  readonly weights: Map<string, HostTensor>;
  readonly tokenizer: Tokenizer;
}

export interface AdapterSpec {
  readonly name: string;
  readonly base: UploadedBase;
  readonly r: number;
  readonly seed: number;
  readonly targetModules?: readonly LinearModule[];
}

export interface RouterHandle {
  readonly app: INestApplication;
  readonly url: string;
  close(): Promise<void>;
}

export class RouterWorld {
  private readonly routers: RouterHandle[] = [];

  private constructor(
    readonly registry: TestApp,
    readonly registryUrl: string,
    private readonly writerKey: string,
    readonly readerKey: string,
    private readonly scratch: string,
  ) {}

  static async start(): Promise<RouterWorld> {
    const registry = await createTestApp();
    await registry.app.listen(0, '127.0.0.1');
    const { port } = registry.app.getHttpServer().address() as AddressInfo;
    const scratch = mkdtempSync(path.join(tmpdir(), 'router-world-'));
    return new RouterWorld(registry, `http://127.0.0.1:${port}`, await registry.keyFor('writer'), await registry.keyFor('reader'), scratch);
  }

  /** Trains a byte-level BPE tokenizer, makes a random tiny Llama and uploads both as a base model. */
  async uploadBase(spec: BaseSpec): Promise<UploadedBase> {
    const tokenizerJson = trainByteLevelBpe(CORPUS, 320);
    const tokenizer = Tokenizer.fromJson(tokenizerJson);
    const eos = tokenizer.eosTokenId;
    // The trainer stops early when no pair repeats: size the model to the vocabulary it produced.
    const vocabSize = 1 + Math.max(...Object.values(tokenizerJson.model.vocab), ...tokenizerJson.added_tokens.map((t) => t.id));
    const config = randomModelConfig({ vocabSize, maxPositionEmbeddings: 256, eosTokenId: eos, bosTokenId: undefined, ...spec.dims });
    const weights = randomCheckpoint(config, spec.seed);
    const dir = path.join(this.scratch, `base-${spec.name}`);
    await saveCheckpoint(dir, config, weights, { dtype: 'F32' });
    await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
    const form = new FormData();
    form.set('name', spec.name);
    for (const file of ['config.json', 'tokenizer.json', 'model.safetensors']) form.set(file, new Blob([new Uint8Array(await readFile(path.join(dir, file)))]), file);
    await this.post('/api/v1/base-models', form);
    return { name: spec.name, config, weights, tokenizer };
  }

  /** A random adapter (non-zero B) uploaded as a PEFT folder; returns its weights as uploaded. */
  async uploadAdapter(spec: AdapterSpec): Promise<LoraWeights> {
    const targetModules = spec.targetModules ?? LINEAR_MODULES;
    const weights = randomLora(spec.base.config, { r: spec.r, seed: spec.seed, targetModules });
    const config = createAdapterConfig({ r: spec.r, lora_alpha: spec.r, target_modules: [...targetModules], base_model_name_or_path: spec.base.name });
    const files = writePeftAdapter(createPeftAdapter(config, weights, { base: spec.base.config }));
    const form = new FormData();
    form.set('name', spec.name);
    form.set('baseModel', spec.base.name);
    form.set('adapter_config', new Blob([files.configJson]), 'adapter_config.json');
    form.set('adapter_model', new Blob([new Uint8Array(files.safetensors)]), 'adapter_model.safetensors');
    await this.post('/api/v1/adapters', form);
    return weights;
  }

  /** A router (listening on a local port) pointed at this registry, reading blobs from its store. */
  async startRouter(env: Record<string, string> = {}): Promise<RouterHandle> {
    const dataDir = path.join(this.scratch, `router-${this.routers.length}`);
    await mkdir(dataDir, { recursive: true });
    const blobStore = this.registry.config.blobStore;
    const config = loadRouterConfig({
      REGISTRY_URL: this.registryUrl,
      REGISTRY_API_KEY: this.readerKey,
      DATA_DIR: dataDir,
      ...(blobStore.driver === 'dir' ? { BLOB_STORE: 'dir', BLOB_DIR: blobStore.root } : { ADAPTER_SOURCE: 'registry' }),
      ...env,
    });
    const app = await createRouterApp(config, { logger: false });
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const handle: RouterHandle = { app, url: `http://127.0.0.1:${port}`, close: () => app.close() };
    this.routers.push(handle);
    return handle;
  }

  async close(): Promise<void> {
    for (const r of this.routers) await r.close().catch(() => undefined);
    await this.registry.close();
    await rm(this.scratch, { recursive: true, force: true });
  }

  private async post(route: string, form: FormData): Promise<void> {
    const res = await fetch(`${this.registryUrl}${route}`, { method: 'POST', headers: { authorization: `Bearer ${this.writerKey}` }, body: form });
    if (res.status !== 201) throw new Error(`registry ${route} answered ${res.status}: ${await res.text()}`);
  }
}

/** POSTs JSON to a router and returns status, headers and parsed body. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } };
}

/** Reads an SSE response into its `data:` payloads (the final `[DONE]` kept as a string). */
export async function postSse(url: string, body: unknown): Promise<{ status: number; headers: Headers; events: (Record<string, unknown> | '[DONE]')[] }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .filter((block) => block.startsWith('data: '))
    .map((block) => block.slice(6))
    .map((data) => (data === '[DONE]' ? '[DONE]' : (JSON.parse(data) as Record<string, unknown>)));
  return { status: res.status, headers: res.headers, events };
}

/** One value of a Prometheus metric from the text exposition (sum of histograms, counters, gauges). */
export async function scrapeMetric(routerUrl: string, name: string): Promise<number> {
  const text = await (await fetch(`${routerUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`metric ${name} not found`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}
