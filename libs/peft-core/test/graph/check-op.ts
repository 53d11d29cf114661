/**
 * checkOp: the one helper every op test goes through (tinygrad's test_ops style). It builds a
 * graph in float64, compares onnxruntime's forward output with a plain-TS reference, and
 * compares the autodiff gradients of a random projection of the output with central finite
 * differences of the same emitted forward graph.
 */
import assert from 'node:assert/strict';
import { compile, DType, gradients, Graph, isFloat, tensorData, Value } from '../../src/graph';
import { KernelTensor } from '@palette/gpu-kernels';
import { Rng } from '../../src/util/rng';
import { Nd } from './reference';

export interface InputSpec {
  shape: number[];
  dtype?: DType;
  /** Explicit values (indices, or floats chosen to avoid kinks and ties). */
  values?: number[];
  /** Default: true for float inputs. */
  differentiable?: boolean;
}

export interface Tolerance {
  atol?: number;
  rtol?: number;
  gradAtol?: number;
  gradRtol?: number;
  /** Finite-difference step. */
  eps?: number;
  seed?: number;
}

/**
 * float64 graphs compile at 'basic' optimisation: onnxruntime's extended fusions (QuickGelu for
 * x·sigmoid(x), ...) have float32-only CPU kernels and fail to load for float64. The float32
 * production path at level 'all' is exercised by the composite tests.
 */
const CHECK_OPTIMIZATION = 'basic' as const;

export interface CheckResult {
  forwardError: number;
  gradError: number;
  gradientsChecked: number;
}

type Build = (g: Graph, ...xs: Value[]) => Value;
type Reference = (...xs: Nd[]) => Nd;

function toSpec(s: number[] | InputSpec): InputSpec {
  return Array.isArray(s) ? { shape: s } : s;
}

function toNumbers(t: KernelTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

/** Largest violation of |a - b| <= atol + rtol·|b|, as the excess error over the allowed band (<= 0 passes). */
function compareArrays(what: string, actual: number[], expected: number[], atol: number, rtol: number): number {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  let worst = 0;
  let worstAt = -1;
  actual.forEach((a, i) => {
    const e = expected[i]!;
    const err = Math.abs(a - e);
    if (err - (atol + rtol * Math.abs(e)) > 0 && err > worst) {
      worst = err;
      worstAt = i;
    }
  });
  assert.ok(worstAt < 0, `${what}: element ${worstAt} is ${actual[worstAt]}, expected ${expected[worstAt]} (|diff| ${worst})`);
  return actual.reduce((m, a, i) => Math.max(m, Math.abs(a - expected[i]!)), 0);
}

export async function checkOp(build: Build, inputShapes: (number[] | InputSpec)[], reference: Reference, tol: Tolerance = {}): Promise<CheckResult> {
  const specs = inputShapes.map(toSpec);
  const rng = new Rng(tol.seed ?? 1234);
  const values = specs.map((s) => s.values ?? Array.from({ length: s.shape.reduce((a, b) => a * b, 1) }, () => rng.normal()));

  const g = new Graph();
  const xs = specs.map((s, i) => g.input(`x${i}`, s.dtype ?? 'float64', s.shape));
  const out = build(g, ...xs);
  g.output('out', out);
  const diffIdx = specs.map((s, i) => ((s.differentiable ?? isFloat(s.dtype ?? 'float64')) ? i : -1)).filter((i) => i >= 0);
  const canDiff = isFloat(out.dtype) && diffIdx.length > 0;
  let cotValues: number[] = [];
  if (canDiff) {
    const outShape = out.shape as number[];
    const cot = g.input('cot', out.dtype, outShape);
    cotValues = Array.from({ length: outShape.reduce((a, b) => a * b, 1) }, () => rng.normal());
    const prod = g.mul(out, cot);
    g.output('loss', out.rank ? g.reduceSum(prod, out.shape.map((_, i) => i)) : prod);
    const grads = gradients(g, g.outputs.get('loss')!, diffIdx.map((i) => xs[i]!));
    grads.forEach((d, k) => g.output(`grad${diffIdx[k]}`, d));
  }

  const feedsFor = (names: readonly string[], vals: number[][]): Record<string, KernelTensor> => {
    const feeds: Record<string, KernelTensor> = {};
    for (const name of names) {
      if (name === 'cot') feeds.cot = tensorData(out.dtype, out.shape as number[], cotValues);
      else {
        const i = Number(name.slice(1));
        feeds[name] = tensorData(specs[i]!.dtype ?? 'float64', specs[i]!.shape, vals[i]!);
      }
    }
    return feeds;
  };

  const forward = await compile(g, { outputs: ['out'], graphOptimization: CHECK_OPTIMIZATION });
  const got = (await forward.run(feedsFor(forward.inputNames, values))).out!;
  const expected = reference(...specs.map((s, i) => ({ shape: s.shape, data: values[i]! })));
  assert.deepEqual([...got.shape], expected.shape, `forward shape`);
  const forwardError = compareArrays('forward', toNumbers(got), expected.data, tol.atol ?? 1e-9, tol.rtol ?? 1e-9);
  await forward.dispose();
  if (!canDiff) return { forwardError, gradError: 0, gradientsChecked: 0 };

  const full = await compile(g, { graphOptimization: CHECK_OPTIMIZATION });
  const analytic = await full.run(feedsFor(full.inputNames, values));
  const lossOnly = await compile(g, { outputs: ['loss'], graphOptimization: CHECK_OPTIMIZATION });
  const eps = tol.eps ?? 1e-6;
  let gradError = 0;
  let checked = 0;
  for (const i of diffIdx) {
    const numeric: number[] = [];
    for (let e = 0; e < values[i]!.length; e++) {
      const perturbed = values.map((v) => [...v]);
      perturbed[i]![e] = values[i]![e]! + eps;
      const plus = Number((await lossOnly.run(feedsFor(lossOnly.inputNames, perturbed))).loss!.data[0]);
      perturbed[i]![e] = values[i]![e]! - eps;
      const minus = Number((await lossOnly.run(feedsFor(lossOnly.inputNames, perturbed))).loss!.data[0]);
      numeric.push((plus - minus) / (2 * eps));
    }
    const err = compareArrays(`gradient of input ${i}`, toNumbers(analytic[`grad${i}`]!), numeric, tol.gradAtol ?? 1e-6, tol.gradRtol ?? 1e-5);
    gradError = Math.max(gradError, err);
    checked += numeric.length;
  }
  await full.dispose();
  await lossOnly.dispose();
  return { forwardError, gradError, gradientsChecked: checked };
}
