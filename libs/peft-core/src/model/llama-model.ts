import { PeftCoreError } from '../errors';
import { loadCheckpoint } from '../formats/checkpoint';
import { expectedWeightShapes } from '../formats/hf-config';
import type { ModelConfig } from '../formats/model-config';
import { compile, type CompiledGraph } from '../graph/compile';
import { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { buildDecoderForward } from './decoder';
import { declareDecoderInputs, stepFeeds } from './decoder-inputs';
import { declareDecoderParamInputs, declareDecoderParams } from './decoder-params';
import { declarePoolLora, declareSingleLora } from './lora-inputs';
import { type LoraPlan, type LoraSelection, planFeeds, planKey, planLora, rowSlotFeeds } from './lora-plan';
import { type GenerateOptions, type GenerationResult, runGeneration } from './generation';
import { BatchDecoder, type BatchDecoderOptions } from './batch-decoder';
import type { LoraTargets } from './lora-inputs';

export interface LlamaModelOptions {
  /** onnxruntime device: 'cpu' (default), 'cuda', 'webgpu'. */
  readonly device?: string;
  /**
   * 'initializers' (default): frozen weights are baked into each compiled graph, which lets
   * onnxruntime pre-pack them. 'inputs': weights are fed on every run from the host buffers
   * (no copy); each session then holds no weights of its own.
   */
  readonly baseWeights?: 'initializers' | 'inputs';
  readonly intraOpThreads?: number;
}

export interface ForwardOptions {
  readonly lora?: LoraSelection;
  /** [batch][seq] RoPE positions (default 0..seq−1). */
  readonly positions?: readonly (readonly number[])[];
}

/** The two graphs a model compiles: full logits without a cache, or last logits with a KV cache. */
export type GraphMode = 'forward' | 'decode';

/** Names of the decode graph's outputs. */
export const DECODE_OUTPUTS = {
  logits: 'logits',
  newKey: (layer: number): string => `new.${layer}.key`,
  newValue: (layer: number): string => `new.${layer}.value`,
} as const;

/**
 * A Llama-family model for inference on onnxruntime. Graphs are compiled on first use per
 * (mode, LoRA wiring, target modules) and cached; adapters are graph inputs, so switching
 * adapters or mixing them per row never recompiles.
 */
export class LlamaModel {
  private readonly sessions = new Map<string, Promise<CompiledGraph>>();
  private weightFeeds: Record<string, TensorData> | undefined;
  private compiles = 0;

  private constructor(
    readonly config: ModelConfig,
    private weights: ReadonlyMap<string, HostTensor>,
    private readonly options: LlamaModelOptions,
  ) {}

  static create(checkpoint: { config: ModelConfig; weights: ReadonlyMap<string, HostTensor> }, options: LlamaModelOptions = {}): LlamaModel {
    return new LlamaModel(checkpoint.config, checkpoint.weights, options);
  }

  /** Loads a Hugging Face checkpoint directory (config.json + safetensors). */
  static async fromCheckpoint(dir: string, options: LlamaModelOptions = {}): Promise<LlamaModel> {
    return LlamaModel.create(await loadCheckpoint(dir), options);
  }

  /** Graphs compiled so far (tests check that switching adapters does not add any). */
  get compileCount(): number {
    return this.compiles;
  }

  /** Logits [batch, seq, vocab] for equal-length token rows. */
  async forward(tokens: readonly (readonly number[])[], options: ForwardOptions = {}): Promise<HostTensor> {
    this.checkTokens(tokens);
    const plan = planLora(this.config, options.lora, tokens.length);
    const session = await this.session('forward', plan);
    const rows = tokens.map((_, b) => b);
    const feeds = {
      ...this.baseFeeds(),
      ...planFeeds(this.config, plan),
      ...rowSlotFeeds(plan, rows),
      ...stepFeeds({ tokens, ...(options.positions ? { positions: options.positions } : {}) }),
    };
    const out = await session.run(feeds, [DECODE_OUTPUTS.logits]);
    const logits = out[DECODE_OUTPUTS.logits]!;
    return hostTensor(logits.shape, logits.data as Float32Array);
  }

  /** Generates from one prompt. */
  generate(prompt: readonly number[], options: GenerateOptions): Promise<GenerationResult>;
  /** Generates from a batch of prompts (of any lengths); rows finish independently. */
  generate(prompts: readonly (readonly number[])[], options: GenerateOptions): Promise<GenerationResult[]>;
  async generate(prompts: readonly number[] | readonly (readonly number[])[], options: GenerateOptions): Promise<GenerationResult | GenerationResult[]> {
    const single = prompts.length > 0 && typeof prompts[0] === 'number';
    const batch = single ? [prompts as readonly number[]] : (prompts as readonly (readonly number[])[]);
    for (const p of batch) this.checkTokens([p]);
    const plan = planLora(this.config, options.lora, batch.length);
    const session = await this.session('decode', plan);
    const results = await runGeneration(this.config, session, batch, options, {
      fixedFeeds: { ...this.baseFeeds(), ...planFeeds(this.config, plan) },
      rowFeeds: (rows) => rowSlotFeeds(plan, rows),
    });
    return single ? results[0]! : results;
  }

  /**
   * A step-level continuous-batching decoder over this model (rows join and leave between steps,
   * each with its own adapter). It shares the model's compiled sessions.
   */
  batchDecoder(options: BatchDecoderOptions = {}): BatchDecoder {
    return new BatchDecoder(
      this.config,
      {
        decodeSession: (targets) => this.decodeSession(targets),
        baseFeeds: () => this.baseFeeds(),
      },
      options,
    );
  }

  /** The decode graph (last logits + new KV) without LoRA, or with the per-row ('rows') LoRA wiring over `targets`. */
  decodeSession(targets: LoraTargets | undefined): Promise<CompiledGraph> {
    const plan: LoraPlan = targets === undefined ? { kind: 'none' } : { kind: 'pool', targets, adapters: [], rowSlots: [], strategy: 'rows' };
    return this.session('decode', plan);
  }

  /**
   * Replaces the frozen weights fed to every graph (baseWeights 'inputs' only, where weights are
   * feeds): e.g. a base with an adapter merged in. Nothing recompiles. Shapes must match.
   */
  setBaseWeights(weights: ReadonlyMap<string, HostTensor>): void {
    if (this.options.baseWeights !== 'inputs') {
      throw new PeftCoreError('UNSUPPORTED', "setBaseWeights needs baseWeights: 'inputs' (initializer weights are baked into the compiled graphs)");
    }
    for (const [name, shape] of expectedWeightShapes(this.config)) {
      const t = weights.get(name);
      if (t === undefined || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new PeftCoreError('CHECKPOINT_INVALID', `setBaseWeights: ${name} is missing or not [${shape.join(', ')}]`);
      }
    }
    this.weights = weights;
    this.weightFeeds = undefined;
  }

  /** Releases every compiled session. The model can compile again afterwards. */
  async dispose(): Promise<void> {
    const pending = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of pending) await (await s.catch(() => undefined))?.dispose();
  }

  private session(mode: GraphMode, plan: LoraPlan): Promise<CompiledGraph> {
    const key = `${mode}|${planKey(plan)}`;
    let session = this.sessions.get(key);
    if (session === undefined) {
      session = this.compileGraph(mode, plan);
      this.sessions.set(key, session);
      session.catch(() => this.sessions.delete(key));
    }
    return session;
  }

  private async compileGraph(mode: GraphMode, plan: LoraPlan): Promise<CompiledGraph> {
    const g = new Graph();
    const config = this.config;
    const params =
      this.options.baseWeights === 'inputs' ? declareDecoderParamInputs(g, config) : declareDecoderParams(g, config, this.weights);
    const inputs = declareDecoderInputs(g, config, mode === 'decode' ? { padding: true, kvCache: true } : {});
    const wiring =
      plan.kind === 'single'
        ? declareSingleLora(g, config, plan.targets, { scaling: 'fed' }).wiring
        : plan.kind === 'pool'
          ? declarePoolLora(g, config, plan.targets, plan.strategy).wiring
          : undefined;
    const out = buildDecoderForward(g, config, params, inputs, wiring, { logits: mode === 'decode' ? 'last' : 'all' });
    g.output(DECODE_OUTPUTS.logits, out.logits);
    if (mode === 'decode') {
      out.newKv.forEach((kv, l) => {
        g.output(DECODE_OUTPUTS.newKey(l), kv.key);
        g.output(DECODE_OUTPUTS.newValue(l), kv.value);
      });
    }
    this.compiles += 1;
    return compile(g, {
      ...(this.options.device !== undefined ? { device: this.options.device } : {}),
      ...(this.options.intraOpThreads !== undefined ? { intraOpThreads: this.options.intraOpThreads } : {}),
    });
  }

  private baseFeeds(): Record<string, TensorData> {
    if (this.options.baseWeights !== 'inputs') return {};
    if (this.weightFeeds === undefined) {
      const feeds: Record<string, TensorData> = {};
      for (const name of expectedWeightShapes(this.config).keys()) {
        const t = this.weights.get(name);
        if (t === undefined) throw new PeftCoreError('CHECKPOINT_INVALID', `weights are missing ${name}`);
        feeds[name] = tensorData('float32', t.shape, t.data);
      }
      this.weightFeeds = feeds;
    }
    return this.weightFeeds;
  }

  private checkTokens(tokens: readonly (readonly number[])[]): void {
    const V = this.config.vocabSize;
    if (tokens.length === 0 || tokens.some((row) => row.length === 0)) {
      throw new PeftCoreError('INVALID_ARGUMENT', 'tokens must be a non-empty batch of non-empty rows');
    }
    for (const [b, row] of tokens.entries()) {
      for (const id of row) {
        if (!Number.isInteger(id) || id < 0 || id >= V) {
          throw new PeftCoreError('INVALID_ARGUMENT', `token id ${id} in row ${b} is outside the vocabulary [0, ${V})`);
        }
      }
    }
  }
}
