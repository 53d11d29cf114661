/**
 * X-Cross fusion training: n frozen adapted streams, trained W_cat per layer and stream weights w
 * on a causal-LM objective over the target domain's data (the paper also trains a task head; a
 * decoder's lm_head is frozen here, so the LM loss plays that role [inferred]). W_cat starts at
 * zero and w at 1/n: training starts from the plain average of the independent streams.
 */
import type { KernelTensor } from '@palette/gpu-kernels';
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { gradients } from '../graph/autodiff';
import { compile } from '../graph/compile';
import { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import { buildDecoderForward } from '../model/decoder';
import { stepFeeds } from '../model/decoder-inputs';
import { declareDecoderParams } from '../model/decoder-params';
import { loraTargetsOf } from '../model/lora-inputs';
import { declareXCross, declareXCrossDecoderInputs, xcrossAdapterFeeds, xcrossNames, xcrossStreamRows } from '../model/xcross-wiring';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { BatchSampler, collate, type TokenizedExample } from '../train/data';
import { causalLmLoss } from '../train/loss';
import type { MeteoraExpert } from './meteora-train';
import { optimize, type OptimizeOptions, type OptimizeRun } from './optimize';
import { createRouterArtifact, parseExpertRef, type RouterArtifact } from './router-artifact';

export interface TrainXCrossOptions extends OptimizeOptions, OptimizeRun {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly baseModel: string;
  /** One frozen adapter per stream ("name@version" + weights). */
  readonly adapters: readonly MeteoraExpert[];
  readonly train: readonly TokenizedExample[];
  readonly batchSize: number;
  readonly seed: number;
  readonly beta?: number;
  readonly gamma?: number;
  readonly padId?: number;
  readonly device?: string;
  readonly intraOpThreads?: number;
}

export interface TrainXCrossResult {
  readonly status: 'completed' | 'aborted';
  readonly artifact: RouterArtifact;
  readonly losses: readonly number[];
}

export async function trainXCrossFusion(o: TrainXCrossOptions): Promise<TrainXCrossResult> {
  const n = o.adapters.length;
  if (n < 2) throw new PeftCoreError('INVALID_ARGUMENT', `X-Cross needs at least 2 adapters, got ${n}`);
  o.adapters.forEach((a) => parseExpertRef(a.ref));
  if (o.train.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'X-Cross training: no training rows');
  const adapterWeights = o.adapters.map((a) => a.weights);
  const targets = loraTargetsOf(o.config, adapterWeights);
  const g = new Graph();
  const params = declareDecoderParams(g, o.config, o.weights);
  const inputs = declareXCrossDecoderInputs(g, n);
  const lmTargets = g.input('targets', 'int64', ['xcross_rows', 'seq']);
  const xcross = declareXCross(g, o.config, targets, { streams: n, ...(o.beta !== undefined ? { beta: o.beta } : {}), ...(o.gamma !== undefined ? { gamma: o.gamma } : {}) });
  const { logits } = buildDecoderForward(g, o.config, params, inputs, xcross.wiring);
  const loss = g.output('loss', causalLmLoss(g, logits, lmTargets));
  const names = [...Array.from({ length: o.config.numLayers }, (_, l) => xcrossNames.fusion(l)), xcrossNames.streamWeights];
  gradients(g, loss, xcross.trainable).forEach((d, i) => g.output(`grad:${names[i]}`, d));
  const session = { ...(o.device !== undefined ? { device: o.device } : {}), ...(o.intraOpThreads !== undefined ? { intraOpThreads: o.intraOpThreads } : {}) };
  const step = await compile(g, session);
  try {
    const pairs = n * (n - 1);
    const H = o.config.hiddenSize;
    const shapes = new Map<string, number[]>(names.map((name, i) => [name, i < o.config.numLayers ? [2 * pairs, n * H] : [n]]));
    const trained = new Map<string, Float32Array>(names.map((name) => [name, new Float32Array(shapes.get(name)!.reduce((a, b) => a * b, 1))]));
    trained.get(xcrossNames.streamWeights)!.fill(1 / n);
    const adapterFeeds = xcrossAdapterFeeds(o.config, targets, adapterWeights);
    const seqLen = Math.max(2, ...o.train.map((r) => r.ids.length));
    const padId = o.padId ?? 0;
    const sampler = new BatchSampler(o.train.length, Math.min(o.batchSize, o.train.length), o.seed);
    const result = await optimize(
      trained,
      o,
      async () => {
        const rows = sampler.next().map((i) => o.train[i]!);
        const batch = collate(rows, seqLen, padId);
        const tokens = rows.map((_, b) => Array.from(batch.inputIds.subarray(b * seqLen, (b + 1) * seqLen), Number));
        const all: Record<string, KernelTensor> = {
          ...stepFeeds({ tokens: xcrossStreamRows(tokens, n) }),
          targets: tensorData('int64', [rows.length, seqLen], batch.targets),
          ...adapterFeeds,
        };
        for (const [name, data] of trained) all[name] = tensorData('float32', shapes.get(name)!, data);
        const out = await step.run(Object.fromEntries(step.inputNames.map((name) => [name, all[name]!])));
        return { loss: Number(out.loss!.data[0]), grads: new Map(names.map((name) => [name, out[`grad:${name}`]!.data as Float32Array])) };
      },
      o,
    );
    const tensors = new Map<string, HostTensor>();
    for (let l = 0; l < o.config.numLayers; l++) tensors.set(`layers.${l}.w_cat`, hostTensor(shapes.get(xcrossNames.fusion(l))!, trained.get(xcrossNames.fusion(l))!));
    tensors.set('stream_weights', hostTensor([n], trained.get(xcrossNames.streamWeights)!));
    const artifact = createRouterArtifact(
      {
        kind: 'xcross',
        baseModel: o.baseModel,
        experts: o.adapters.map((a) => a.ref),
        targets: targets.paths,
        hyperparameters: { streams: n, beta: xcross.wiring.beta, gamma: xcross.wiring.gamma },
        metrics: { steps: result.steps, ...(result.losses.length > 0 ? { finalLoss: result.losses.at(-1)! } : {}) },
      },
      tensors,
    );
    return { status: result.status, artifact, losses: result.losses };
  } finally {
    await step.dispose();
  }
}
