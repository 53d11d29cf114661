/**
 * The compiled training step: the decoder forward (model/), the causal-LM loss (loss.ts) and the
 * backward part from graph autodiff, in one ONNX graph that returns the loss and the gradients of
 * the trainable set. Frozen weights are initializers (stored in the model, never copied per step);
 * trainable tensors are graph inputs fed every step. The optimizer step runs in TS (optim/).
 *
 * One graph per (model config, trainable set, batch shape): the batch shape is fixed so the
 * runtime can plan memory once; the Trainer pads every batch to it.
 */
import type { KernelTensor, SessionOptions } from '@palette/gpu-kernels';
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { linearShape } from '../formats/model-modules';
import { compile, type CompiledGraph } from '../graph/compile';
import { gradients } from '../graph/autodiff';
import { Graph } from '../graph/graph';
import type { Value } from '../graph/value';
import { buildDecoderForward } from '../model/decoder';
import { declareDecoderInputs } from '../model/decoder-inputs';
import { declareDecoderParams } from '../model/decoder-params';
import { SingleLoraWiring, type SingleLoraSlot } from '../model/lora-wiring';
import type { HostTensor } from '../tensor/host-tensor';
import type { Batch } from './data';
import { causalLmLoss } from './loss';

/** What the graph differentiates with respect to. */
export type TrainableSet =
  /** LoRA A and B of these module paths, one scaling for all (alpha/r or alpha/√r). */
  | { readonly kind: 'lora'; readonly modules: readonly string[]; readonly rank: number; readonly scaling: number }
  /** These base weights by HF name (every weight to pretrain; the targeted W's for LoRA-GA's estimate). */
  | { readonly kind: 'weights'; readonly names: readonly string[] };

export interface TrainingGraphOptions {
  readonly config: ModelConfig;
  /** The frozen base weights by HF name (trainable ones may be absent or stale: they are fed). */
  readonly base: ReadonlyMap<string, HostTensor>;
  readonly trainable: TrainableSet;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly device?: string;
  readonly intraOpThreads?: number;
  /** Further onnxruntime session settings (spinning, profiling, ...); device/intraOpThreads above win. */
  readonly session?: SessionOptions;
}

export interface StepResult {
  /** Mean cross-entropy over the batch's targets (0 when it has none). */
  readonly loss: number;
  /** d loss / d parameter, keyed by trainable parameter name. */
  readonly grads: Map<string, Float32Array>;
}

/** Trainable parameter names: PEFT's key suffixes for LoRA, HF weight names for base weights. */
export function loraParamName(modulePath: string, factor: 'A' | 'B'): string {
  return `${modulePath}.lora_${factor}.weight`;
}

/** The names and shapes of the trainable parameters of a set, in a stable order. */
export function trainableShapes(config: ModelConfig, base: ReadonlyMap<string, HostTensor>, set: TrainableSet): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (set.kind === 'lora') {
    for (const path of set.modules) {
      const [o, i] = linearShape(config, path);
      out.set(loraParamName(path, 'A'), [set.rank, i]);
      out.set(loraParamName(path, 'B'), [o, set.rank]);
    }
    return out;
  }
  for (const name of set.names) {
    const t = base.get(name);
    if (t === undefined) throw new PeftCoreError('CHECKPOINT_INVALID', `trainable weight ${name} is not in the base checkpoint`);
    out.set(name, [...t.shape]);
  }
  return out;
}

interface Built {
  readonly graph: Graph;
  /** Trainable parameter name → graph input name. */
  readonly inputOf: Map<string, string>;
  readonly tokensInput: string;
  readonly positionsInput: string;
  readonly querySlotsInput: string;
  readonly targetsInput: string;
}

function leafName(v: Value, what: string): string {
  if (v.leaf === null || v.leaf.kind !== 'input') throw new PeftCoreError('GRAPH_INVALID', `training graph: ${what} is not a graph input`);
  return v.leaf.name;
}

function buildTrainingGraph(o: TrainingGraphOptions): Built {
  const g = new Graph();
  const shapes = trainableShapes(o.config, o.base, o.trainable);
  const trainableWeights = new Set(o.trainable.kind === 'weights' ? o.trainable.names : []);
  const params = declareDecoderParams(g, o.config, o.base, { trainable: (name: string) => trainableWeights.has(name) });
  const inputs = declareDecoderInputs(g, o.config, { padding: false });
  const targets = g.input('targets', 'int64', inputs.tokens.shape);
  const inputOf = new Map<string, string>();
  const wrt: Value[] = [];
  let logits: Value;
  if (o.trainable.kind === 'lora') {
    const slots = new Map<string, SingleLoraSlot>();
    for (const path of o.trainable.modules) {
      const A = g.input(loraParamName(path, 'A'), 'float32', shapes.get(loraParamName(path, 'A'))!);
      const B = g.input(loraParamName(path, 'B'), 'float32', shapes.get(loraParamName(path, 'B'))!);
      slots.set(path, { A, B, scaling: o.trainable.scaling });
      for (const [factor, v] of [['A', A], ['B', B]] as const) {
        inputOf.set(loraParamName(path, factor), leafName(v, `lora ${factor} of ${path}`));
        wrt.push(v);
      }
    }
    logits = buildDecoderForward(g, o.config, params, inputs, new SingleLoraWiring(slots)).logits;
  } else {
    logits = buildDecoderForward(g, o.config, params, inputs).logits;
    for (const name of o.trainable.names) {
      const v = params.get(name);
      if (v === undefined) throw new PeftCoreError('CHECKPOINT_INVALID', `training graph: no parameter ${name}`);
      inputOf.set(name, leafName(v, name));
      wrt.push(v);
    }
  }
  if (inputOf.size !== shapes.size) throw new PeftCoreError('GRAPH_INVALID', 'training graph: trainable set and graph inputs disagree');
  const loss = causalLmLoss(g, logits, targets);
  g.output('loss', loss);
  const grads = gradients(g, loss, wrt);
  [...inputOf.keys()].forEach((name, i) => g.output(`grad:${name}`, grads[i]!));
  return {
    graph: g,
    inputOf,
    tokensInput: leafName(inputs.tokens, 'tokens'),
    positionsInput: leafName(inputs.positions, 'positions'),
    querySlotsInput: leafName(inputs.querySlots, 'querySlots'),
    targetsInput: 'targets',
  };
}

/**
 * A compiled training step for one (config, trainable set, batch shape). `run` returns the loss and
 * gradients; `evaluate` the loss only (a second session over the same graph without the backward).
 */
export class TrainingGraph {
  private constructor(
    private readonly built: Built,
    private readonly step: CompiledGraph,
    private readonly evalStep: CompiledGraph,
    readonly shapes: ReadonlyMap<string, readonly number[]>,
    readonly batchSize: number,
    readonly seqLen: number,
  ) {}

  static async compile(o: TrainingGraphOptions): Promise<TrainingGraph> {
    const built = buildTrainingGraph(o);
    const common = { ...o.session, ...(o.device !== undefined ? { device: o.device } : {}), ...(o.intraOpThreads !== undefined ? { intraOpThreads: o.intraOpThreads } : {}) };
    // Two sessions profiled under one prefix would write indistinguishable files: suffix each.
    const profiled = (suffix: string): { profilePrefix?: string } => (o.session?.profilePrefix !== undefined ? { profilePrefix: `${o.session.profilePrefix}${suffix}` } : {});
    const step = await compile(built.graph, { ...common, ...profiled('step_') });
    const evalStep = await compile(built.graph, { ...common, ...profiled('eval_'), outputs: ['loss'] });
    return new TrainingGraph(built, step, evalStep, trainableShapes(o.config, o.base, o.trainable), o.batchSize, o.seqLen);
  }

  /** The ONNX bytes of the training step (for inspection and caching). */
  get model(): Uint8Array {
    return this.step.model;
  }

  async run(batch: Batch, params: ReadonlyMap<string, Float32Array>): Promise<StepResult> {
    const out = await this.step.run(this.feeds(batch, params, this.step.inputNames));
    const grads = new Map<string, Float32Array>();
    for (const name of this.shapes.keys()) grads.set(name, out[`grad:${name}`]!.data as Float32Array);
    return { loss: scalar(out.loss!), grads };
  }

  async evaluate(batch: Batch, params: ReadonlyMap<string, Float32Array>): Promise<number> {
    const out = await this.evalStep.run(this.feeds(batch, params, this.evalStep.inputNames));
    return scalar(out.loss!);
  }

  /** Ends the profiles of a graph compiled with `session.profilePrefix`: the trace files of the step and eval sessions. */
  endProfiling(): { step: string | undefined; evaluate: string | undefined } {
    return { step: this.step.endProfiling(), evaluate: this.evalStep.endProfiling() };
  }

  async dispose(): Promise<void> {
    await this.step.dispose();
    await this.evalStep.dispose();
  }

  private feeds(batch: Batch, params: ReadonlyMap<string, Float32Array>, wanted: readonly string[]): Record<string, KernelTensor> {
    if (batch.rows !== this.batchSize || batch.seqLen !== this.seqLen) {
      throw new PeftCoreError('SHAPE_MISMATCH', `training graph compiled for batches [${this.batchSize}, ${this.seqLen}], got [${batch.rows}, ${batch.seqLen}]`);
    }
    const b = this.built;
    const positions = new BigInt64Array(batch.rows * batch.seqLen);
    for (let i = 0; i < positions.length; i++) positions[i] = BigInt(i % batch.seqLen);
    const slots = new BigInt64Array(batch.seqLen);
    for (let t = 0; t < slots.length; t++) slots[t] = BigInt(t);
    const all: Record<string, KernelTensor> = {
      [b.tokensInput]: { dtype: 'int64', shape: [batch.rows, batch.seqLen], data: batch.inputIds },
      [b.positionsInput]: { dtype: 'int64', shape: [batch.rows, batch.seqLen], data: positions },
      [b.querySlotsInput]: { dtype: 'int64', shape: [batch.seqLen], data: slots },
      [b.targetsInput]: { dtype: 'int64', shape: [batch.rows, batch.seqLen], data: batch.targets },
    };
    for (const [name, shape] of this.shapes) {
      const data = params.get(name);
      if (data === undefined) throw new PeftCoreError('INVALID_ARGUMENT', `training step: no value for trainable parameter ${name}`);
      all[b.inputOf.get(name)!] = { dtype: 'float32', shape: [...shape], data };
    }
    // Emission drops inputs the chosen outputs do not need: the loss-only graph takes fewer.
    const feeds: Record<string, KernelTensor> = {};
    for (const name of wanted) {
      const t = all[name];
      if (t === undefined) throw new PeftCoreError('GRAPH_INVALID', `training graph wants an input '${name}' the trainer does not feed`);
      feeds[name] = t;
    }
    return feeds;
  }
}

function scalar(t: KernelTensor): number {
  return Number(t.data[0]);
}
