/**
 * Gradient checks for routing wirings: a float64 graph, a scalar loss Σ_i ⟨out_i, c_i⟩ with random
 * fixed cotangents c_i, autodiff gradients w.r.t. named inputs, against central finite differences
 * of the same emitted loss graph (as test/graph/check-op.ts does for single ops).
 */
import type { KernelTensor } from '@palette/gpu-kernels';
import { gradients } from '../../src/graph/autodiff';
import { compile } from '../../src/graph/compile';
import { Graph } from '../../src/graph/graph';
import { tensorData } from '../../src/graph/tensor-data';
import type { Value } from '../../src/graph/value';
import { Rng } from '../../src/util/rng';

export function randomValues(rng: Rng, count: number, std: number): number[] {
  return Array.from({ length: count }, () => std * rng.normal());
}

export interface GradientCheckSpec {
  /** Builds the outputs to differentiate and names the (float64) inputs to check. */
  readonly build: (g: Graph) => { outputs: readonly Value[]; wrt: readonly string[] };
  readonly feeds: Readonly<Record<string, KernelTensor>>;
  readonly seed: number;
  /** Finite-difference step (default 1e-6). */
  readonly eps?: number;
}

export interface GradientCheckResult {
  /** Each output's forward values. */
  readonly forward: Float64Array[];
  /** Largest |analytic − numeric| / max(1, |numeric|). */
  readonly maxError: number;
  readonly checked: number;
}

export async function gradientCheck(spec: GradientCheckSpec): Promise<GradientCheckResult> {
  const g = new Graph();
  const { outputs, wrt } = spec.build(g);
  const rng = new Rng(spec.seed);
  const terms = outputs.map((out, i) => {
    g.output(`out${i}`, out);
    const shape = out.shape as number[];
    const cot = g.constant(tensorData('float64', shape, randomValues(rng, shape.reduce((a, b) => a * b, 1), 1)));
    return g.reduceSum(g.mul(out, cot), shape.map((_, a) => a));
  });
  const loss = g.output('loss', g.sum(terms));
  const wrtValues = wrt.map((name) => g.inputs.find((v) => v.leaf?.name === name)!);
  gradients(g, loss, wrtValues).forEach((d, i) => g.output(`grad${i}`, d));

  const options = { graphOptimization: 'basic' as const };
  const full = await compile(g, options);
  const lossOnly = await compile(g, { ...options, outputs: ['loss'] });
  try {
    const feedsFor = (names: readonly string[], all: Record<string, KernelTensor>): Record<string, KernelTensor> =>
      Object.fromEntries(names.map((n) => [n, all[n]!]));
    const base = { ...spec.feeds };
    const out = await full.run(feedsFor(full.inputNames, base));
    const forward = outputs.map((_, i) => Float64Array.from(out[`out${i}`]!.data as Float64Array));
    const eps = spec.eps ?? 1e-6;
    let maxError = 0;
    let checked = 0;
    for (const [i, name] of wrt.entries()) {
      const analytic = out[`grad${i}`]!.data as Float64Array;
      const original = spec.feeds[name]!;
      const values = Float64Array.from(original.data as Float64Array);
      for (let e = 0; e < values.length; e++) {
        const at = async (v: number): Promise<number> => {
          const perturbed = values.slice();
          perturbed[e] = v;
          const feeds = { ...base, [name]: tensorData('float64', [...original.shape], perturbed) };
          return Number((await lossOnly.run(feedsFor(lossOnly.inputNames, feeds))).loss!.data[0]);
        };
        const numeric = ((await at(values[e]! + eps)) - (await at(values[e]! - eps))) / (2 * eps);
        maxError = Math.max(maxError, Math.abs(analytic[e]! - numeric) / Math.max(1, Math.abs(numeric)));
        checked++;
      }
    }
    return { forward, maxError, checked };
  } finally {
    await full.dispose();
    await lossOnly.dispose();
  }
}
