/**
 * MeteoRA gate training (ALGORITHMS.md "MeteoRA"): the union of the experts' task data, every
 * token labelled with its task index; loss = LM cross-entropy + λ · gate cross-entropy, where the
 * gate term is the cross-entropy of every gated module's logits against the task label of the
 * NEXT token (the gate at position t chooses the experts that predict token t+1: the same shift
 * as the LM targets). Experts and base are frozen; only the gates W_g train (AdamW).
 *
 * [inferred] The gate term is the MEAN over gated modules (the paper sums over a fixed model; a
 * mean keeps λ's meaning independent of how many projections are gated), and over labelled tokens.
 */
import type { KernelTensor } from '@palette/gpu-kernels';
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { compile, type CompiledGraph } from '../graph/compile';
import { gradients } from '../graph/autodiff';
import { Graph } from '../graph/graph';
import { crossEntropy } from '../graph/nn';
import { tensorData } from '../graph/tensor-data';
import type { LoraWeights } from '../lora/adapter';
import { buildDecoderForward } from '../model/decoder';
import { declareDecoderInputs, stepFeeds } from '../model/decoder-inputs';
import { declareDecoderParams } from '../model/decoder-params';
import { loraTargetsOf, type LoraTargets } from '../model/lora-inputs';
import { prefixTokenFeature, type PrefixScope } from '../model/meteora-prefix';
import { declareMeteora, meteoraExpertFeeds, meteoraNames, type MeteoraWiring } from '../model/meteora-wiring';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { BatchSampler, IGNORE_INDEX, tokenizeExample, type TextTokenizer, type TrainingExample } from '../train/data';
import { causalLmLoss } from '../train/loss';
import { Rng } from '../util/rng';
import { optimize, type OptimizeOptions, type OptimizeRun } from './optimize';
import { createRouterArtifact, parseExpertRef, type RouterArtifact } from './router-artifact';

/** One training or evaluation row: token ids, LM loss mask, and each token's task index (−1 = none). */
export interface TaskLabelledSequence {
  readonly ids: readonly number[];
  /** 1 where the token is an LM target (as train/data's TokenizedExample). */
  readonly lossMask: readonly number[];
  /** Task index of each token (composite prompts switch task mid-row); −1 = unlabelled. */
  readonly taskLabels: readonly number[];
}

/**
 * Tokenizes each task's examples (train/data conventions: BOS + prompt + completion + EOS,
 * completion-only LM targets) and labels every token with the task's index.
 */
export function labelTaskExamples(tokenizer: TextTokenizer, tasks: readonly (readonly TrainingExample[])[]): TaskLabelledSequence[] {
  const out: TaskLabelledSequence[] = [];
  tasks.forEach((examples, task) => {
    for (const example of examples) {
      const { ids, lossMask } = tokenizeExample(tokenizer, example);
      out.push({ ids, lossMask, taskLabels: ids.map(() => task) });
    }
  });
  return out;
}

/**
 * Drops the gate labels no gate can learn: the gate at position t sees tokens 0..t only and is
 * trained on the task of token t+1, so where the prefix ids[0..t] occurs in rows of different
 * tasks (BOS, "Q: " before the task marker) its target is a coin toss. Those targets (label t+1)
 * become −1. Measured on the evaluation world: with them, held-out gate top-1 stalls near 72 %
 * (≈ 4 of every 15 positions precede the marker) and the gate loss stays ≈ 1 nat, which hides
 * whether the learnable positions are right. Rows are not copied when nothing changes.
 * `fallback` (default −1 = no target) is the label those positions get instead: an expert
 * index makes one expert own every position before the task is known (the list-format expert,
 * so that no task expert's K/V at "Q: " differs between prompts of different tasks).
 */
export function maskAmbiguousGateLabels(rows: readonly TaskLabelledSequence[], fallback = -1): TaskLabelledSequence[] {
  // Prefix (as a joined id string) → the single label that follows it, or −2 when several do.
  const follows = new Map<string, number>();
  const keys = rows.map((row) => {
    const out: string[] = [];
    let key = '';
    for (let t = 0; t + 1 < row.ids.length; t++) {
      key += `${row.ids[t]},`;
      out.push(key);
      const label = row.taskLabels[t + 1]!;
      if (label < 0) continue;
      const seen = follows.get(key);
      if (seen === undefined) follows.set(key, label);
      else if (seen !== label) follows.set(key, -2);
    }
    return out;
  });
  return rows.map((row, r) => {
    const ambiguous = keys[r]!.map((key, t) => (follows.get(key) === -2 ? t + 1 : -1)).filter((t) => t > 0);
    if (ambiguous.length === 0) return row;
    const taskLabels = [...row.taskLabels];
    for (const t of ambiguous) taskLabels[t] = fallback;
    return { ...row, taskLabels };
  });
}

export interface MeteoraExpert {
  /** "name@version" of the expert adapter in the registry. */
  readonly ref: string;
  readonly weights: LoraWeights;
}

export interface TrainMeteoraOptions extends OptimizeOptions, OptimizeRun {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
  /** Name (or name@version) of the base model, recorded in the artifact. */
  readonly baseModel: string;
  /** Expert j is task j of the labels. */
  readonly experts: readonly MeteoraExpert[];
  readonly train: readonly TaskLabelledSequence[];
  readonly eval?: readonly TaskLabelledSequence[];
  readonly batchSize: number;
  readonly seed: number;
  /** Default 2. */
  readonly topK?: number;
  /** Default 1. */
  readonly temperature?: number;
  /** λ (default 50, the paper's). */
  readonly auxLossWeight?: number;
  /**
   * Adds the prefix-token feature to every gate (meteora-wiring's `prefix`: which tokens occurred
   * so far) with its own W_p [N, vocab], zero-initialised. Default false (the paper's gate).
   */
  readonly prefixGate?: boolean;
  /** The prefix feature's scope (meteora-prefix.ts; default sequence), recorded in the artifact. */
  readonly prefixScope?: PrefixScope;
  /** Std of the gates' normal init (default 0.01). */
  readonly gateInitStd?: number;
  /** Padding token id (default 0; padding is never a target nor attended by real tokens). */
  readonly padId?: number;
  readonly device?: string;
  readonly intraOpThreads?: number;
}

export interface GateModuleStats {
  readonly path: string;
  readonly layer: number;
  /** Fraction of labelled tokens whose top-1 gate logit is their task's expert. */
  readonly accuracy: number;
  /** Mean mixing weight each expert received over labelled tokens. */
  readonly expertUsage: readonly number[];
}

export interface GateEvaluation {
  readonly tokens: number;
  /** Mean over gated modules of the per-token top-1 accuracy. */
  readonly meanAccuracy: number;
  readonly minAccuracy: number;
  /** Mean accuracy per decoder layer (index = layer). */
  readonly layerAccuracy: readonly number[];
  readonly modules: readonly GateModuleStats[];
  readonly lmLoss: number;
  readonly gateLoss: number;
}

export interface TrainMeteoraResult {
  readonly status: 'completed' | 'aborted';
  readonly artifact: RouterArtifact;
  /** W_g per gated module path. */
  readonly gates: ReadonlyMap<string, HostTensor>;
  /** W_p per gated module path (empty without `prefixGate`). */
  readonly prefixGates: ReadonlyMap<string, HostTensor>;
  readonly losses: readonly number[];
  readonly evaluation?: GateEvaluation;
}

const GRAD_PREFIX = 'grad:';

interface MeteoraGraph {
  readonly graph: Graph;
  readonly wiring: MeteoraWiring;
  readonly targets: LoraTargets;
  readonly gateInputs: readonly string[];
}

/** The forward + losses (+ gate gradients) graph of MeteoRA training. */
function buildMeteoraTrainingGraph(o: TrainMeteoraOptions, targets: LoraTargets): MeteoraGraph {
  const g = new Graph();
  const params = declareDecoderParams(g, o.config, o.weights);
  const inputs = declareDecoderInputs(g, o.config);
  const lmTargets = g.input('targets', 'int64', inputs.tokens.shape);
  const gateTargets = g.input('gate_targets', 'int64', inputs.tokens.shape);
  const meteora = declareMeteora(g, o.config, targets, {
    experts: o.experts.length,
    ...(o.topK !== undefined ? { topK: o.topK } : {}),
    ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    ...(o.prefixGate ? { prefixTokens: o.config.vocabSize } : {}),
  });
  const { logits } = buildDecoderForward(g, o.config, params, inputs, meteora.wiring);
  const lmLoss = causalLmLoss(g, logits, lmTargets);
  const perModule = meteora.wiring.gateRecords.map((r) => crossEntropy(g, r.logits, gateTargets, { ignoreIndex: IGNORE_INDEX }));
  const gateLoss = g.div(g.sum(perModule), perModule.length);
  const loss = g.add(lmLoss, g.mul(gateLoss, o.auxLossWeight ?? 50));
  g.output('loss', loss);
  g.output('lm_loss', lmLoss);
  g.output('gate_loss', gateLoss);
  for (const r of meteora.wiring.gateRecords) {
    g.output(meteoraNames.gateLogits(r.path), r.logits);
    g.output(meteoraNames.gateWeights(r.path), r.weights);
  }
  const grads = gradients(g, loss, [...meteora.gates, ...meteora.prefixGates]);
  const gateInputs = [...targets.paths.map((p) => meteoraNames.gate(p)), ...(o.prefixGate ? targets.paths.map((p) => meteoraNames.prefixGate(p)) : [])];
  gateInputs.forEach((name, i) => g.output(GRAD_PREFIX + name, grads[i]!));
  return { graph: g, wiring: meteora.wiring, targets, gateInputs };
}

interface LabelledBatch {
  readonly tokens: number[][];
  readonly lmTargets: BigInt64Array;
  readonly gateTargets: BigInt64Array;
  readonly rows: number;
  readonly seqLen: number;
  /** Tokens before each row's first LM target: the prompt a router would be handed at once. */
  readonly promptLengths: readonly number[];
}

/** Right-pads rows to seqLen; LM and gate targets are shifted by one token (ignored where absent). */
export function collateLabelled(rows: readonly TaskLabelledSequence[], seqLen: number, padId: number): LabelledBatch {
  const lmTargets = new BigInt64Array(rows.length * seqLen).fill(BigInt(IGNORE_INDEX));
  const gateTargets = new BigInt64Array(rows.length * seqLen).fill(BigInt(IGNORE_INDEX));
  const tokens = rows.map((row, b) => {
    if (row.ids.length !== row.lossMask.length || row.ids.length !== row.taskLabels.length) {
      throw new PeftCoreError('DATASET_INVALID', `MeteoRA data: row ${b} has ${row.ids.length} ids, ${row.lossMask.length} mask entries and ${row.taskLabels.length} task labels`);
    }
    const n = Math.min(row.ids.length, seqLen);
    for (let t = 0; t + 1 < n; t++) {
      if (row.lossMask[t + 1] !== 0) lmTargets[b * seqLen + t] = BigInt(row.ids[t + 1]!);
      if (row.taskLabels[t + 1]! >= 0) gateTargets[b * seqLen + t] = BigInt(row.taskLabels[t + 1]!);
    }
    return Array.from({ length: seqLen }, (_, t) => (t < n ? row.ids[t]! : padId));
  });
  const promptLengths = rows.map((row) => {
    const first = row.lossMask.indexOf(1);
    return first < 0 ? row.ids.length : first;
  });
  return { tokens, lmTargets, gateTargets, rows: rows.length, seqLen, promptLengths };
}

function batchFeeds(batch: LabelledBatch, prefix?: { readonly vocab: number; readonly scope: PrefixScope }): Record<string, KernelTensor> {
  return {
    ...stepFeeds({ tokens: batch.tokens }),
    // Right padding comes after every real token, so it never changes a real position's prefix.
    ...(prefix !== undefined ? { [meteoraNames.prefix]: prefixTokenFeature(batch.tokens, prefix.vocab, { promptLengths: batch.promptLengths, scope: prefix.scope }) } : {}),
    targets: tensorData('int64', [batch.rows, batch.seqLen], batch.lmTargets),
    gate_targets: tensorData('int64', [batch.rows, batch.seqLen], batch.gateTargets),
  };
}

function pick(all: Record<string, KernelTensor>, names: readonly string[]): Record<string, KernelTensor> {
  const out: Record<string, KernelTensor> = {};
  for (const name of names) {
    const t = all[name];
    if (t === undefined) throw new PeftCoreError('GRAPH_INVALID', `MeteoRA graph wants an input '${name}' that is not fed`);
    out[name] = t;
  }
  return out;
}

function checkOptions(o: TrainMeteoraOptions): void {
  if (o.experts.length < 2) throw new PeftCoreError('INVALID_ARGUMENT', `MeteoRA needs at least 2 experts, got ${o.experts.length}`);
  o.experts.forEach((e) => parseExpertRef(e.ref));
  if (o.train.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'MeteoRA training: no training rows');
  for (const [i, row] of [...o.train, ...(o.eval ?? [])].entries()) {
    for (const label of row.taskLabels) {
      if (!Number.isInteger(label) || label < -1 || label >= o.experts.length) {
        throw new PeftCoreError('DATASET_INVALID', `MeteoRA data: row ${i} has task label ${label}; labels must be −1 or an expert index in [0, ${o.experts.length})`);
      }
    }
  }
}

/** Trains MeteoRA gates over frozen experts; returns the gates, losses, held-out evaluation and a router artifact. */
export async function trainMeteoraGates(o: TrainMeteoraOptions): Promise<TrainMeteoraResult> {
  checkOptions(o);
  const expertWeights = o.experts.map((e) => e.weights);
  const targets = loraTargetsOf(o.config, expertWeights);
  const built = buildMeteoraTrainingGraph(o, targets);
  const session = { ...(o.device !== undefined ? { device: o.device } : {}), ...(o.intraOpThreads !== undefined ? { intraOpThreads: o.intraOpThreads } : {}) };
  const gradOutputs = ['loss', 'lm_loss', 'gate_loss', ...built.gateInputs.map((n) => GRAD_PREFIX + n)];
  const step = await compile(built.graph, { ...session, outputs: gradOutputs });
  const gateOutputs = built.wiring.gateRecords.flatMap((r) => [meteoraNames.gateLogits(r.path), meteoraNames.gateWeights(r.path)]);
  const evalStep = await compile(built.graph, { ...session, outputs: ['lm_loss', 'gate_loss', ...gateOutputs] });
  try {
    const n = o.experts.length;
    const rng = new Rng(o.seed);
    const std = o.gateInitStd ?? 0.01;
    const params = new Map<string, Float32Array>();
    for (const path of targets.paths) {
      const inF = built.graph.inputs.find((v) => v.leaf?.name === meteoraNames.gate(path))!.shape[1] as number;
      params.set(meteoraNames.gate(path), Float32Array.from({ length: n * inF }, () => std * rng.normal()));
    }
    // Zero init: the prefix term starts silent, so step 0 is the paper's gate.
    const prefixVocab = o.prefixGate ? o.config.vocabSize : 0;
    if (o.prefixScope !== undefined && !o.prefixGate) throw new PeftCoreError('INVALID_ARGUMENT', 'MeteoRA: a prefix scope needs the prefix gate');
    const prefix = prefixVocab > 0 ? { vocab: prefixVocab, scope: o.prefixScope ?? ({ kind: 'sequence' } as const) } : undefined;
    const lineBreaks = prefix?.scope.kind === 'line' ? [...prefix.scope.lineBreaks].sort((a, b) => a - b) : [];
    if (prefix?.scope.kind === 'line' && lineBreaks.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'MeteoRA: the line prefix scope needs at least one line-break token');
    if (prefixVocab > 0) for (const path of targets.paths) params.set(meteoraNames.prefixGate(path), new Float32Array(n * prefixVocab));
    const experts = meteoraExpertFeeds(o.config, targets, expertWeights);
    const seqLen = Math.max(2, ...[...o.train, ...(o.eval ?? [])].map((r) => r.ids.length));
    const padId = o.padId ?? 0;
    const sampler = new BatchSampler(o.train.length, Math.min(o.batchSize, o.train.length), o.seed + 1);
    const result = await optimize(
      params,
      o,
      async () => {
        const batch = collateLabelled(sampler.next().map((i) => o.train[i]!), seqLen, padId);
        const all: Record<string, KernelTensor> = { ...batchFeeds(batch, prefix), ...experts };
        for (const [name, data] of params) all[name] = tensorData('float32', [n, data.length / n], data);
        const out = await step.run(pick(all, step.inputNames));
        const grads = new Map(built.gateInputs.map((name) => [name, out[GRAD_PREFIX + name]!.data as Float32Array]));
        return { loss: Number(out.loss!.data[0]), grads, metrics: { lmLoss: Number(out.lm_loss!.data[0]), gateLoss: Number(out.gate_loss!.data[0]) } };
      },
      o,
    );
    const gates = new Map(targets.paths.map((p) => {
      const data = params.get(meteoraNames.gate(p))!;
      return [p, hostTensor([n, data.length / n], data)] as const;
    }));
    const prefixGates = new Map(prefixVocab > 0 ? targets.paths.map((p) => [p, hostTensor([n, prefixVocab], params.get(meteoraNames.prefixGate(p))!)] as const) : []);
    const evaluation =
      o.eval !== undefined && o.eval.length > 0
        ? await evaluateGates(evalStep, built.wiring, o.eval, { ...experts, ...meteoraGateFeeds(gates, prefixGates) }, seqLen, padId, Math.max(1, o.batchSize), prefix)
        : undefined;
    const metrics: Record<string, number> = { steps: result.steps, finalLoss: result.losses.at(-1) ?? Number.NaN };
    if (evaluation) Object.assign(metrics, { evalGateAccuracy: evaluation.meanAccuracy, evalMinGateAccuracy: evaluation.minAccuracy, evalLmLoss: evaluation.lmLoss, evalGateLoss: evaluation.gateLoss, evalTokens: evaluation.tokens });
    if (!Number.isFinite(metrics.finalLoss!)) delete metrics.finalLoss;
    const artifact = createRouterArtifact(
      {
        kind: 'meteora',
        baseModel: o.baseModel,
        experts: o.experts.map((e) => e.ref),
        targets: targets.paths,
        hyperparameters: {
          topK: built.wiring.topK,
          temperature: built.wiring.temperature,
          auxLossWeight: o.auxLossWeight ?? 50,
          ...(prefixVocab > 0 ? { prefixTokens: prefixVocab } : {}),
          ...(lineBreaks.length > 0 ? { prefixLineBreaks: lineBreaks.length } : {}),
        },
        metrics,
      },
      new Map([
        ...[...gates].map(([p, t]) => [`gate.${p}`, t] as const),
        ...[...prefixGates].map(([p, t]) => [`prefix_gate.${p}`, t] as const),
        ...(lineBreaks.length > 0 ? [['prefix_line_breaks', hostTensor([lineBreaks.length], Float32Array.from(lineBreaks))] as const] : []),
      ]),
    );
    return { status: result.status, artifact, gates, prefixGates, losses: result.losses, ...(evaluation ? { evaluation } : {}) };
  } finally {
    await step.dispose();
    await evalStep.dispose();
  }
}

/**
 * Gate statistics on labelled rows: per gated module, the fraction of labelled tokens whose
 * top-1 gate logit is the label, and the mean mixing weight per expert.
 */
async function evaluateGates(
  evalStep: CompiledGraph,
  wiring: MeteoraWiring,
  rows: readonly TaskLabelledSequence[],
  /** Expert and gate feeds. */
  fixed: Record<string, KernelTensor>,
  seqLen: number,
  padId: number,
  batchSize: number,
  prefix: Parameters<typeof batchFeeds>[1],
): Promise<GateEvaluation> {
  const n = wiring.experts;
  const records = wiring.gateRecords;
  const correct = new Float64Array(records.length);
  const usage = records.map(() => new Float64Array(n));
  let tokens = 0;
  let lmSum = 0;
  let gateSum = 0;
  let batches = 0;
  for (let start = 0; start < rows.length; start += batchSize) {
    const batch = collateLabelled(rows.slice(start, start + batchSize), seqLen, padId);
    const all: Record<string, KernelTensor> = { ...batchFeeds(batch, prefix), ...fixed };
    const out = await evalStep.run(pick(all, evalStep.inputNames));
    lmSum += Number(out.lm_loss!.data[0]);
    gateSum += Number(out.gate_loss!.data[0]);
    batches++;
    records.forEach((r, i) => {
      const logits = out[meteoraNames.gateLogits(r.path)]!.data as Float32Array;
      const weights = out[meteoraNames.gateWeights(r.path)]!.data as Float32Array;
      for (let pos = 0; pos < batch.gateTargets.length; pos++) {
        const label = Number(batch.gateTargets[pos]);
        if (label === IGNORE_INDEX) continue;
        if (argmax(logits, pos * n, n) === label) correct[i]!++;
        for (let j = 0; j < n; j++) usage[i]![j]! += weights[pos * n + j]!;
      }
    });
    for (const v of batch.gateTargets) if (Number(v) !== IGNORE_INDEX) tokens++;
  }
  if (tokens === 0) throw new PeftCoreError('DATASET_INVALID', 'MeteoRA evaluation: no labelled tokens');
  const modules = records.map((r, i) => ({ path: r.path, layer: r.layer, accuracy: correct[i]! / tokens, expertUsage: Array.from(usage[i]!, (u) => u / tokens) }));
  const layers = new Map<number, number[]>();
  for (const m of modules) layers.set(m.layer, [...(layers.get(m.layer) ?? []), m.accuracy]);
  const layerAccuracy = [...layers.keys()].sort((a, b) => a - b).map((l) => mean(layers.get(l)!));
  return {
    tokens,
    meanAccuracy: mean(modules.map((m) => m.accuracy)),
    minAccuracy: Math.min(...modules.map((m) => m.accuracy)),
    layerAccuracy,
    modules,
    lmLoss: lmSum / batches,
    gateLoss: gateSum / batches,
  };
}

function argmax(data: Float32Array, offset: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (data[offset + j]! > data[offset + best]!) best = j;
  return best;
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** Gate tensors (W_g per module) from a MeteoRA artifact, keyed by module path. */
export function meteoraGatesOf(artifact: RouterArtifact): Map<string, HostTensor> {
  if (artifact.manifest.kind !== 'meteora') throw new PeftCoreError('INVALID_ARGUMENT', `expected a MeteoRA artifact, got ${artifact.manifest.kind}`);
  return new Map(artifact.manifest.targets.map((p) => [p, artifact.tensors.get(`gate.${p}`)!]));
}

/** Prefix-gate tensors (W_p per module) of a MeteoRA artifact trained with `prefixGate` (else empty). */
export function meteoraPrefixGatesOf(artifact: RouterArtifact): Map<string, HostTensor> {
  if (artifact.manifest.kind !== 'meteora') throw new PeftCoreError('INVALID_ARGUMENT', `expected a MeteoRA artifact, got ${artifact.manifest.kind}`);
  if (!artifact.manifest.hyperparameters.prefixTokens) return new Map();
  return new Map(artifact.manifest.targets.map((p) => [p, artifact.tensors.get(`prefix_gate.${p}`)!]));
}

/** The prefix feature's scope of a MeteoRA artifact (undefined: no prefix gate). */
export function meteoraPrefixScopeOf(artifact: RouterArtifact): PrefixScope | undefined {
  const m = artifact.manifest;
  if (m.kind !== 'meteora') throw new PeftCoreError('INVALID_ARGUMENT', `expected a MeteoRA artifact, got ${m.kind}`);
  if (!m.hyperparameters.prefixTokens) return undefined;
  if (m.hyperparameters.prefixLineBreaks === undefined) return { kind: 'sequence' };
  return { kind: 'line', lineBreaks: new Set(Array.from(artifact.tensors.get('prefix_line_breaks')!.data)) };
}

/** Feeds for the gates (and prefix gates, when given) of a MeteoRA graph. */
export function meteoraGateFeeds(gates: ReadonlyMap<string, HostTensor>, prefixGates: ReadonlyMap<string, HostTensor> = new Map()): Record<string, KernelTensor> {
  const feeds: Record<string, KernelTensor> = {};
  for (const [p, t] of gates) feeds[meteoraNames.gate(p)] = tensorData('float32', [...t.shape], t.data);
  for (const [p, t] of prefixGates) feeds[meteoraNames.prefixGate(p)] = tensorData('float32', [...t.shape], t.data);
  return feeds;
}
