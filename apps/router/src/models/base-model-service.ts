import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { LlamaModel, loadCheckpoint, Tokenizer, type HostTensor, type ModelConfig, type TokenizerConfigJson } from '@palette/peft-core';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { routerErrors } from '../common/router-error';
import { BatchEngine } from '../engine/batch-engine';
import { RouterMetrics } from '../metrics/router-metrics';
import { BlobReader } from '../registry/blob-reader';
import { RegistryClient } from '../registry/registry-client';
import { materialiseBaseModel } from './base-model-files';

/** A base model ready to serve: weights compiled on first use, tokenizer, and its batching engine. */
export interface ServedBaseModel {
  readonly name: string;
  readonly config: ModelConfig;
  /** The checkpoint's weights (learned routers compile their own graphs over them). */
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly model: LlamaModel;
  readonly tokenizer: Tokenizer;
  readonly engine: BatchEngine;
  /** Token ids that end generation (the tokenizer's and config's EOS). */
  readonly stopTokenIds: ReadonlySet<number>;
}

/**
 * Loads base models from the registry on first use (one load per name, shared by concurrent
 * requests) and keeps them: base models are few and large, adapters are what the cache juggles.
 */
@Injectable()
export class BaseModelService implements OnApplicationShutdown {
  private readonly logger = new Logger('base-models');
  private readonly loaded = new Map<string, Promise<ServedBaseModel>>();

  constructor(
    @Inject(ROUTER_CONFIG) private readonly config: RouterConfig,
    private readonly registry: RegistryClient,
    private readonly blobs: BlobReader,
    private readonly metrics: RouterMetrics,
  ) {}

  /** Whether the registry knows a base model by this name (no loading). */
  async exists(name: string): Promise<boolean> {
    return this.loaded.has(name) || (await this.registry.baseModel(name)) !== null;
  }

  /** The served model, loading it on first use; 404 when the registry has no such base. */
  get(name: string): Promise<ServedBaseModel> {
    let served = this.loaded.get(name);
    if (served === undefined) {
      served = this.load(name);
      this.loaded.set(name, served);
      served.catch(() => this.loaded.delete(name));
    }
    return served;
  }

  /** Names of the models loaded (or loading) now. */
  loadedNames(): string[] {
    return [...this.loaded.keys()];
  }

  async onApplicationShutdown(): Promise<void> {
    for (const served of this.loaded.values()) {
      const s = await served.catch(() => undefined);
      if (s === undefined) continue;
      await s.engine.close();
      await s.model.dispose();
    }
  }

  private async load(name: string): Promise<ServedBaseModel> {
    const started = Date.now();
    const info = await this.registry.baseModel(name);
    if (info === null) throw routerErrors.modelNotFound(name);
    const dir = await materialiseBaseModel(this.config.dataDir, info, this.registry, this.blobs);
    const checkpoint = await loadCheckpoint(dir);
    const tokenizer = Tokenizer.fromJson(JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')), await readTokenizerConfig(dir));
    const model = LlamaModel.create(checkpoint, { device: this.config.device });
    const engine = new BatchEngine(
      model.batchDecoder({ padTokenId: tokenizer.eosTokenId ?? 0 }),
      { maxBatch: this.config.maxBatch, maxQueue: this.config.maxQueue, retryAfterSeconds: this.config.retryAfterSeconds },
      this.metrics,
    );
    const eos = checkpoint.config.eosTokenId;
    const stopTokenIds = new Set<number>([...(eos === undefined ? [] : Array.isArray(eos) ? eos : [eos]), ...(tokenizer.eosTokenId === undefined ? [] : [tokenizer.eosTokenId])]);
    this.logger.log(`base model ${name} loaded from ${dir} in ${Date.now() - started} ms`);
    return { name, config: checkpoint.config, weights: checkpoint.weights, model, tokenizer, engine, stopTokenIds };
  }
}

async function readTokenizerConfig(dir: string): Promise<TokenizerConfigJson | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, 'tokenizer_config.json'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // optional file
    throw error;
  }
  return JSON.parse(text) as TokenizerConfigJson;
}
