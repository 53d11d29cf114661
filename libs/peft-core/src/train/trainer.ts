/**
 * The training loop: batches from the data pipeline, loss and gradients from the compiled training
 * graph, gradient accumulation and clipping, the cosine schedule and AdamW in TS, progress events,
 * evaluation, cancellation, and checkpoints that resume bit-exactly.
 *
 * Determinism: every random choice (LoRA init, data order) comes from Rngs seeded by `seed`, the
 * accumulator sums in f64 in a fixed order, and onnxruntime's CPU kernels are deterministic for a
 * fixed thread count, so the same seed on the same machine should give bit-identical losses. It
 * does not for full pretraining runs of the evaluation world (2026-11-24: step-100 losses 2.7737
 * vs 2.7460 on two runs); which part is not deterministic has not been found.
 */
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { AdamW } from '../optim/adamw';
import { clipGradNorm, GradientAccumulator } from '../optim/gradients';
import { cosineWithWarmup } from '../optim/schedule';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { Rng } from '../util/rng';
import type { TrainingCheckpoint } from './checkpoint';
import { saveTrainingCheckpoint } from './checkpoint';
import { BatchSampler, collate, longestRow, packExamples, tokenizeExample, type Batch, type TextTokenizer, type TokenizedExample, type TrainingExample } from './data';
import { setupLora, targetModulePaths, validateLoraSpec, type LoraSpec } from './lora-setup';
import { loraParamName, TrainingGraph, type TrainableSet } from './train-graph';
import { loraScaling } from '../lora/delta';

export type TrainingMode = 'lora' | 'full';

export interface TrainerOptions {
  /** 'lora' trains A and B of every targeted module; 'full' trains every base weight (pretraining). */
  readonly mode: TrainingMode;
  /** Optimizer steps; or give `epochs` (passes over the training rows). */
  readonly steps?: number;
  readonly epochs?: number;
  /** Rows per micro-batch. */
  readonly batchSize: number;
  /** Micro-batches per optimizer step (default 1). */
  readonly gradAccumulation?: number;
  /** Peak learning rate. */
  readonly lr: number;
  /** Linear warm-up steps (default 0). */
  readonly warmupSteps?: number;
  /** Floor of the cosine decay (default 0). */
  readonly minLr?: number;
  /** AdamW decoupled weight decay (default 0). In full mode norms are exempt. */
  readonly weightDecay?: number;
  /** Clip the global gradient norm to this (default 1; 0 disables). */
  readonly maxGradNorm?: number;
  readonly seed: number;
  /** Rows are padded (or packed) to this length; default: the longest row, capped by the model. */
  readonly maxSeqLen?: number;
  /** Pack examples into rows of maxSeqLen (default false: one example per row). */
  readonly packing?: boolean;
  readonly lora?: LoraSpec;
  /** Evaluate every this many steps (default 0: only when asked / at the end). */
  readonly evalEvery?: number;
  /** Batches used to estimate dL/dW for LoRA-GA's init (default 4). */
  readonly loraGaBatches?: number;
  readonly device?: string;
  readonly intraOpThreads?: number;
}

export interface TrainerInit {
  readonly config: ModelConfig;
  /** The base checkpoint, by HF weight name (not modified). */
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly tokenizer: TextTokenizer;
  readonly train: readonly TrainingExample[];
  readonly eval?: readonly TrainingExample[];
  readonly options: TrainerOptions;
  /** Continue from a checkpoint taken by a trainer with the same options and data. */
  readonly resume?: TrainingCheckpoint;
}

export interface ProgressEvent {
  /** Optimizer steps completed. */
  readonly step: number;
  readonly totalSteps: number;
  readonly epoch: number;
  readonly loss: number;
  /** The learning rate the step used. */
  readonly lr: number;
  /** Global gradient norm before clipping. */
  readonly gradNorm: number;
  /** Real (non-padding) tokens processed per second in this step. */
  readonly tokensPerSecond: number;
  readonly elapsedSeconds: number;
  readonly etaSeconds: number;
  /** Present on steps where an evaluation ran. */
  readonly evalLoss?: number;
}

export interface TrainRunOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Stop once this many steps are completed (to checkpoint mid-run); default the total. */
  readonly stopAfterStep?: number;
}

export interface TrainResult {
  readonly status: 'completed' | 'aborted' | 'paused';
  readonly step: number;
  readonly losses: readonly number[];
  readonly evalLoss?: number;
}

interface Resolved {
  readonly gradAccumulation: number;
  readonly warmupSteps: number;
  readonly minLr: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  readonly loraGaBatches: number;
  readonly evalEvery: number;
}

function invalid(message: string): PeftCoreError {
  return new PeftCoreError('INVALID_ARGUMENT', `trainer: ${message}`);
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v <= 0) throw invalid(`${name} must be a positive integer, got ${v}`);
  return v;
}

function resolveOptions(o: TrainerOptions): Resolved {
  positiveInt('batchSize', o.batchSize);
  if ((o.steps === undefined) === (o.epochs === undefined)) throw invalid('give exactly one of steps and epochs');
  if (o.steps !== undefined) positiveInt('steps', o.steps);
  if (o.epochs !== undefined) positiveInt('epochs', o.epochs);
  if (!(o.lr > 0)) throw invalid(`lr must be positive, got ${o.lr}`);
  if (o.mode !== 'lora' && o.mode !== 'full') throw invalid(`mode must be 'lora' or 'full', got ${String(o.mode)}`);
  if (o.mode === 'lora') {
    if (o.lora === undefined) throw invalid("mode 'lora' needs lora options {r, alpha, targetModules, init}");
    validateLoraSpec(o.lora);
  }
  if (o.packing && o.maxSeqLen === undefined) throw invalid('packing needs maxSeqLen');
  const r: Resolved = {
    gradAccumulation: positiveInt('gradAccumulation', o.gradAccumulation ?? 1),
    warmupSteps: o.warmupSteps ?? 0,
    minLr: o.minLr ?? 0,
    weightDecay: o.weightDecay ?? 0,
    maxGradNorm: o.maxGradNorm ?? 1,
    loraGaBatches: positiveInt('loraGaBatches', o.loraGaBatches ?? 4),
    evalEvery: o.evalEvery ?? 0,
  };
  if (!(r.maxGradNorm >= 0)) throw invalid(`maxGradNorm must be ≥ 0, got ${r.maxGradNorm}`);
  return r;
}

/** Separate, reproducible random streams for the data order and the initialisation. */
function streamSeed(seed: number, stream: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream, 0x85ebca6b)) >>> 0;
}

function isNormOrBias(name: string): boolean {
  return name.endsWith('norm.weight') || name.endsWith('.bias');
}

export class Trainer {
  private stepCount = 0;
  private readonly lossHistory: number[] = [];

  private constructor(
    readonly config: ModelConfig,
    private readonly options: TrainerOptions,
    private readonly resolved: Resolved,
    /** The base the run trains against: the loaded weights with residual bases substituted. */
    private readonly base: Map<string, HostTensor>,
    private readonly baseOverrides: Map<string, HostTensor>,
    private readonly trainRows: readonly TokenizedExample[],
    private readonly evalRows: readonly TokenizedExample[],
    readonly seqLen: number,
    private readonly padId: number,
    private readonly graph: TrainingGraph,
    /** Trainable parameters by name; updated in place by the optimizer. */
    private readonly params: Map<string, Float32Array>,
    private readonly shapes: ReadonlyMap<string, readonly number[]>,
    private readonly optimizer: AdamW,
    private readonly sampler: BatchSampler,
    readonly totalSteps: number,
    private readonly loraModules: readonly string[],
    private readonly scaling: number,
    /** The LoRA factors at init, for residual-base methods (PiSSA / LoRA-GA). */
    readonly initialLora: LoraWeights | undefined,
  ) {}

  static async create(init: TrainerInit): Promise<Trainer> {
    const { config, options, tokenizer } = init;
    const resolved = resolveOptions(options);
    const tokenize = (examples: readonly TrainingExample[]): TokenizedExample[] => examples.map((e) => tokenizeExample(tokenizer, e));
    let trainRows = tokenize(init.train);
    let evalRows = tokenize(init.eval ?? []);
    const cap = Math.min(options.maxSeqLen ?? Number.MAX_SAFE_INTEGER, config.maxPositionEmbeddings);
    if (options.packing) {
      trainRows = packExamples(trainRows, cap);
      evalRows = packExamples(evalRows, cap);
    }
    const seqLen = Math.min(cap, Math.max(longestRow(trainRows), longestRow(evalRows), 2));
    const hasTargets = (r: TokenizedExample): boolean => r.lossMask.slice(1, seqLen).some((m) => m !== 0);
    trainRows = trainRows.filter(hasTargets);
    evalRows = evalRows.filter(hasTargets);
    if (trainRows.length === 0) throw invalid(`no training example has a target token within ${seqLen} tokens`);
    const padId = tokenizer.eosTokenId ?? 0;

    const sampler = new BatchSampler(trainRows.length, options.batchSize, streamSeed(options.seed, 1));
    const stepsPerEpoch = Math.max(1, Math.ceil(sampler.batchesPerEpoch / resolved.gradAccumulation));
    const totalSteps = options.steps ?? stepsPerEpoch * (options.epochs as number);

    const base = new Map(init.weights);
    const baseOverrides = new Map<string, HostTensor>();
    const params = new Map<string, Float32Array>();
    let trainable: TrainableSet;
    let loraModules: string[] = [];
    let scaling = 1;
    let initialLora: LoraWeights | undefined;
    if (options.mode === 'lora') {
      const spec = options.lora as LoraSpec;
      loraModules = targetModulePaths(config, spec);
      const rng = new Rng(streamSeed(options.seed, 2));
      scaling = loraScaling(spec.alpha, spec.r, spec.rsLoRA ?? false);
      if (init.resume) {
        for (const [name, t] of init.resume.baseOverrides) baseOverrides.set(name, t);
        initialLora = loraFromParams(loraModules, init.resume.initialFactors, scaling);
      } else {
        const gradients = spec.init === 'lora-ga' ? await estimateWeightGradients(config, base, loraModules, trainRows, seqLen, padId, options, resolved) : undefined;
        const setup = setupLora(config, base, spec, rng, gradients);
        for (const [name, t] of setup.baseOverrides) baseOverrides.set(name, t);
        for (const m of setup.weights.modules.values()) {
          params.set(loraParamName(m.path, 'A'), m.A.data);
          params.set(loraParamName(m.path, 'B'), m.B.data);
        }
        initialLora = setup.initialFactors;
      }
      trainable = { kind: 'lora', modules: loraModules, rank: spec.r, scaling };
    } else {
      const names = [...base.keys()];
      if (!init.resume) for (const name of names) params.set(name, base.get(name)!.data.slice());
      trainable = { kind: 'weights', names };
    }
    for (const [name, t] of baseOverrides) base.set(name, t);
    if (init.resume) for (const [name, t] of init.resume.params) params.set(name, t.data.slice());

    const graph = await TrainingGraph.compile({
      config,
      base,
      trainable,
      batchSize: options.batchSize,
      seqLen,
      ...(options.device !== undefined ? { device: options.device } : {}),
      ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
    });
    for (const name of graph.shapes.keys()) if (!params.has(name)) throw invalid(`checkpoint has no value for parameter ${name}`);
    const optimizer = new AdamW(params, {
      lr: options.lr,
      weightDecay: resolved.weightDecay,
      ...(options.mode === 'full' ? { decays: (name: string) => !isNormOrBias(name) } : {}),
    });
    const trainer = new Trainer(
      config, options, resolved, base, baseOverrides, trainRows, evalRows, seqLen, padId, graph, params, graph.shapes,
      optimizer, sampler, totalSteps, loraModules, scaling, initialLora,
    );
    if (init.resume) trainer.restore(init.resume);
    return trainer;
  }

  get step(): number {
    return this.stepCount;
  }

  get losses(): readonly number[] {
    return this.lossHistory;
  }

  /** Runs optimizer steps until the total (or `stopAfterStep`), or until the signal aborts. */
  async train(run: TrainRunOptions = {}): Promise<TrainResult> {
    const stopAt = Math.min(run.stopAfterStep ?? this.totalSteps, this.totalSteps);
    const schedule = cosineWithWarmup({ baseLr: this.options.lr, warmupSteps: Math.min(this.resolved.warmupSteps, this.totalSteps), totalSteps: this.totalSteps, minLr: this.resolved.minLr });
    const started = performance.now();
    const startStep = this.stepCount;
    let lastEval: number | undefined;
    while (this.stepCount < stopAt) {
      if (run.signal?.aborted) return { status: 'aborted', step: this.stepCount, losses: this.lossHistory, ...(lastEval !== undefined ? { evalLoss: lastEval } : {}) };
      const t0 = performance.now();
      const lr = schedule(this.stepCount);
      const { loss, gradNorm, tokens } = await this.optimizerStep(lr);
      const evalLoss = this.resolved.evalEvery > 0 && this.stepCount % this.resolved.evalEvery === 0 ? await this.evaluate() : undefined;
      if (evalLoss !== undefined) lastEval = evalLoss;
      const now = performance.now();
      const elapsed = (now - started) / 1000;
      const perStep = elapsed / (this.stepCount - startStep);
      run.onProgress?.({
        step: this.stepCount,
        totalSteps: this.totalSteps,
        epoch: this.sampler.epoch,
        loss,
        lr,
        gradNorm,
        tokensPerSecond: tokens / ((now - t0) / 1000),
        elapsedSeconds: elapsed,
        etaSeconds: perStep * (this.totalSteps - this.stepCount),
        ...(evalLoss !== undefined ? { evalLoss } : {}),
      });
    }
    const status = this.stepCount >= this.totalSteps ? 'completed' : 'paused';
    return { status, step: this.stepCount, losses: this.lossHistory, ...(lastEval !== undefined ? { evalLoss: lastEval } : {}) };
  }

  /** Mean loss over every eval target (undefined without eval data). */
  async evaluate(): Promise<number | undefined> {
    if (this.evalRows.length === 0) return undefined;
    const B = this.options.batchSize;
    const filler: TokenizedExample = { ids: [this.padId], lossMask: [0] };
    let total = 0;
    let count = 0;
    for (let i = 0; i < this.evalRows.length; i += B) {
      const rows = this.evalRows.slice(i, i + B);
      while (rows.length < B) rows.push(filler);
      const batch = collate(rows, this.seqLen, this.padId);
      if (batch.targetCount === 0) continue;
      total += (await this.graph.evaluate(batch, this.params)) * batch.targetCount;
      count += batch.targetCount;
    }
    return count > 0 ? total / count : undefined;
  }

  /** A deep copy of everything needed to continue this run bit-exactly. */
  checkpoint(): TrainingCheckpoint {
    const params = new Map<string, HostTensor>();
    for (const [name, data] of this.params) params.set(name, hostTensor(this.shapes.get(name)!, data.slice()));
    return {
      step: this.stepCount,
      params,
      optimizer: this.optimizer.state(),
      sampler: this.sampler.state(),
      baseOverrides: new Map(this.baseOverrides),
      initialFactors: loraToParams(this.initialLora),
      losses: [...this.lossHistory],
      run: this.runDescription(),
    };
  }

  async saveCheckpoint(dir: string): Promise<void> {
    await saveTrainingCheckpoint(dir, this.checkpoint());
  }

  /** The trained adapter (copies), for LoRA runs. Its base is `baseWeights()` (see residual bases). */
  loraWeights(): LoraWeights {
    if (this.options.mode !== 'lora') throw invalid('loraWeights() is only defined for LoRA runs');
    const modules = new Map<string, LoraModule>();
    for (const path of this.loraModules) {
      const a = loraParamName(path, 'A');
      const b = loraParamName(path, 'B');
      modules.set(path, { path, A: hostTensor(this.shapes.get(a)!, this.params.get(a)!.slice()), B: hostTensor(this.shapes.get(b)!, this.params.get(b)!.slice()), scaling: this.scaling });
    }
    return { modules };
  }

  /**
   * The base weights the run trains against: the loaded base with PiSSA / LoRA-GA residuals
   * substituted (LoRA runs), or the trained weights (full runs). Tensors are copies.
   */
  baseWeights(): Map<string, HostTensor> {
    const out = new Map<string, HostTensor>();
    for (const [name, t] of this.base) {
      const trained = this.options.mode === 'full' ? this.params.get(name) : undefined;
      out.set(name, hostTensor(t.shape, (trained ?? t.data).slice()));
    }
    return out;
  }

  /** Whether the LoRA was initialised by moving part of W into it (the adapter needs the residual base). */
  get usesResidualBase(): boolean {
    return this.baseOverrides.size > 0;
  }

  async dispose(): Promise<void> {
    await this.graph.dispose();
  }

  private async optimizerStep(lr: number): Promise<{ loss: number; gradNorm: number; tokens: number }> {
    const acc = new GradientAccumulator(new Map([...this.shapes].map(([n, s]) => [n, s.reduce((a, b) => a * b, 1)])));
    let lossSum = 0;
    let targets = 0;
    let tokens = 0;
    for (let k = 0; k < this.resolved.gradAccumulation; k++) {
      const batch = this.nextBatch();
      const { loss, grads } = await this.graph.run(batch, this.params);
      // Weighting by target count makes the accumulated gradient that of the token-mean loss over all micro-batches.
      acc.add(grads, batch.targetCount);
      lossSum += loss * batch.targetCount;
      targets += batch.targetCount;
      tokens += batch.tokenCount;
    }
    const loss = lossSum / targets;
    const grads = acc.result('mean');
    const gradNorm = this.resolved.maxGradNorm > 0 ? clipGradNorm(grads, this.resolved.maxGradNorm) : globalNorm(grads);
    if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
      throw new PeftCoreError('TRAINING_DIVERGED', `training diverged at step ${this.stepCount + 1}: loss ${loss}, gradient norm ${gradNorm} (lower lr or maxGradNorm)`);
    }
    this.optimizer.step(grads, lr);
    this.stepCount++;
    this.lossHistory.push(loss);
    return { loss, gradNorm, tokens };
  }

  private nextBatch(): Batch {
    return collate(this.sampler.next().map((i) => this.trainRows[i]!), this.seqLen, this.padId);
  }

  /** What must match for a checkpoint to continue this run (device and threads may differ). */
  private runDescription(): Record<string, unknown> {
    const { device: _device, intraOpThreads: _threads, ...rest } = this.options;
    return { options: rest, seqLen: this.seqLen, trainRows: this.trainRows.length, scaling: this.scaling };
  }

  private restore(ckpt: TrainingCheckpoint): void {
    const mine = JSON.stringify(this.runDescription());
    const theirs = JSON.stringify(ckpt.run);
    if (mine !== theirs) throw new PeftCoreError('CHECKPOINT_INVALID', `training checkpoint is from a different run: saved ${theirs}, this run ${mine}`);
    this.optimizer.loadState(ckpt.optimizer);
    this.sampler.loadState(ckpt.sampler);
    this.stepCount = ckpt.step;
    this.lossHistory.push(...ckpt.losses);
  }
}

/** LoRA factors as named parameters (the checkpoint form). */
function loraToParams(lora: LoraWeights | undefined): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const m of lora?.modules.values() ?? []) {
    out.set(loraParamName(m.path, 'A'), m.A);
    out.set(loraParamName(m.path, 'B'), m.B);
  }
  return out;
}

function loraFromParams(modules: readonly string[], params: ReadonlyMap<string, HostTensor>, scaling: number): LoraWeights | undefined {
  if (params.size === 0) return undefined;
  const out = new Map<string, LoraModule>();
  for (const path of modules) {
    const A = params.get(loraParamName(path, 'A'));
    const B = params.get(loraParamName(path, 'B'));
    if (A === undefined || B === undefined) throw new PeftCoreError('CHECKPOINT_INVALID', `training checkpoint: initial LoRA factors of ${path} are missing`);
    out.set(path, { path, A, B, scaling });
  }
  return { modules: out };
}

function globalNorm(grads: ReadonlyMap<string, Float32Array>): number {
  let s = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  return Math.sqrt(s);
}

/**
 * dL/dW of the targeted base weights, averaged over a few batches (LoRA-GA's init). Uses its own
 * data stream so the training order is the same whichever init is chosen.
 */
async function estimateWeightGradients(
  config: ModelConfig,
  base: ReadonlyMap<string, HostTensor>,
  modules: readonly string[],
  rows: readonly TokenizedExample[],
  seqLen: number,
  padId: number,
  options: TrainerOptions,
  resolved: Resolved,
): Promise<Map<string, Float32Array>> {
  const names = modules.map((p) => `${p}.weight`);
  const graph = await TrainingGraph.compile({
    config,
    base,
    trainable: { kind: 'weights', names },
    batchSize: options.batchSize,
    seqLen,
    ...(options.device !== undefined ? { device: options.device } : {}),
    ...(options.intraOpThreads !== undefined ? { intraOpThreads: options.intraOpThreads } : {}),
  });
  try {
    const sampler = new BatchSampler(rows.length, options.batchSize, streamSeed(options.seed, 3));
    const acc = new GradientAccumulator(new Map(names.map((n) => [n, base.get(n)!.data.length])));
    const params = new Map(names.map((n) => [n, base.get(n)!.data]));
    for (let i = 0; i < resolved.loraGaBatches; i++) {
      const batch = collate(sampler.next().map((j) => rows[j]!), seqLen, padId);
      const { grads } = await graph.run(batch, params);
      acc.add(grads, batch.targetCount);
    }
    return acc.result('mean');
  } finally {
    await graph.dispose();
  }
}
