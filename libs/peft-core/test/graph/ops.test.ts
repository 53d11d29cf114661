import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clearSessionCache } from '@palette/gpu-kernels';
import { Graph, OPS, OpName, Value } from '../../src/graph';
import { checkOp, InputSpec, Tolerance } from './check-op';
import * as R from './reference';

interface Case {
  name: string;
  /** The primitive ops this case exercises (used to prove every op is covered). */
  ops: OpName[];
  build: (g: Graph, ...xs: Value[]) => Value;
  inputs: (number[] | InputSpec)[];
  ref: (...xs: R.Nd[]) => R.Nd;
  tol?: Tolerance;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const positive = (shape: number[], seed: number): InputSpec => ({
  shape,
  values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => 0.5 + ((i * 7 + seed) % 11) / 5),
});
const distinct = (shape: number[], seed: number): InputSpec => ({
  shape,
  values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => ((i * 13 + seed) % 23) / 7 - 1.5),
});
const ints = (shape: number[], values: number[], dtype: 'int64' | 'int32' = 'int64'): InputSpec => ({ shape, dtype, values });
const bools = (shape: number[], values: number[]): InputSpec => ({ shape, dtype: 'bool', values });

const cases: Case[] = [
  { name: 'add broadcast', ops: ['Add'], build: (g, a, b) => g.add(a!, b!), inputs: [[2, 3], [3]], ref: (a, b) => R.zip([a!, b!], (x, y) => x + y) },
  { name: 'sub broadcast', ops: ['Sub'], build: (g, a, b) => g.sub(a!, b!), inputs: [[2, 1, 3], [4, 1]], ref: (a, b) => R.zip([a!, b!], (x, y) => x - y) },
  { name: 'mul broadcast', ops: ['Mul'], build: (g, a, b) => g.mul(a!, b!), inputs: [[2, 3], [2, 1]], ref: (a, b) => R.zip([a!, b!], (x, y) => x * y) },
  { name: 'div', ops: ['Div'], build: (g, a, b) => g.div(a!, b!), inputs: [[2, 3], positive([3], 1)], ref: (a, b) => R.zip([a!, b!], (x, y) => x / y) },
  { name: 'max', ops: ['Max'], build: (g, a, b) => g.max(a!, b!), inputs: [distinct([2, 3], 1), distinct([2, 3], 5)], ref: (a, b) => R.zip([a!, b!], Math.max) },
  { name: 'min', ops: ['Min'], build: (g, a, b) => g.min(a!, b!), inputs: [distinct([2, 3], 2), distinct([3], 9)], ref: (a, b) => R.zip([a!, b!], Math.min) },
  { name: 'equal', ops: ['Equal'], build: (g, a, b) => g.equal(a!, b!), inputs: [ints([4], [1, 2, 3, 4]), ints([4], [1, 0, 3, 0])], ref: (a, b) => R.zip([a!, b!], (x, y) => Number(x === y)) },
  { name: 'less', ops: ['Less'], build: (g, a, b) => g.less(a!, b!), inputs: [distinct([2, 3], 1), distinct([3], 4)], ref: (a, b) => R.zip([a!, b!], (x, y) => Number(x < y)) },
  { name: 'greater', ops: ['Greater'], build: (g, a, b) => g.greater(a!, b!), inputs: [distinct([2, 3], 1), distinct([3], 4)], ref: (a, b) => R.zip([a!, b!], (x, y) => Number(x > y)) },
  {
    name: 'where',
    ops: ['Where'],
    build: (g, c, a, b) => g.where(c!, a!, b!),
    inputs: [bools([2, 3], [1, 0, 1, 0, 0, 1]), [2, 3], [3]],
    ref: (c, a, b) => R.zip([c!, a!, b!], (k, x, y) => (k ? x : y)),
  },
  { name: 'neg', ops: ['Neg'], build: (g, a) => g.neg(a!), inputs: [[2, 3]], ref: (a) => R.map(a!, (x) => -x) },
  { name: 'exp', ops: ['Exp'], build: (g, a) => g.exp(a!), inputs: [[2, 3]], ref: (a) => R.map(a!, Math.exp) },
  { name: 'log', ops: ['Log'], build: (g, a) => g.log(a!), inputs: [positive([2, 3], 3)], ref: (a) => R.map(a!, Math.log) },
  { name: 'sqrt', ops: ['Sqrt'], build: (g, a) => g.sqrt(a!), inputs: [positive([2, 3], 4)], ref: (a) => R.map(a!, Math.sqrt) },
  { name: 'sigmoid', ops: ['Sigmoid'], build: (g, a) => g.sigmoid(a!), inputs: [[2, 3]], ref: (a) => R.map(a!, sigmoid) },
  { name: 'tanh', ops: ['Tanh'], build: (g, a) => g.tanh(a!), inputs: [[2, 3]], ref: (a) => R.map(a!, Math.tanh) },
  { name: 'relu', ops: ['Relu'], build: (g, a) => g.relu(a!), inputs: [distinct([2, 3], 3)], ref: (a) => R.map(a!, (x) => Math.max(x, 0)) },
  { name: 'cos', ops: ['Cos'], build: (g, a) => g.cos(a!), inputs: [[2, 3]], ref: (a) => R.map(a!, Math.cos) },
  { name: 'sin', ops: ['Sin'], build: (g, a) => g.sin(a!), inputs: [[2, 3]], ref: (a) => R.map(a!, Math.sin) },
  { name: 'pow 3', ops: ['Pow'], build: (g, a) => g.pow(a!, 3), inputs: [[2, 3]], ref: (a) => R.map(a!, (x) => x ** 3) },
  { name: 'pow -0.5', ops: ['Pow'], build: (g, a) => g.pow(a!, -0.5), inputs: [positive([2, 3], 2)], ref: (a) => R.map(a!, (x) => x ** -0.5) },
  { name: 'cast f64->f32->f64', ops: ['Cast'], build: (g, a) => g.cast(g.cast(a!, 'float32'), 'float64'), inputs: [[3]], ref: (a) => R.map(a!, Math.fround), tol: { gradAtol: 1e-4, eps: 1e-3 } },
  { name: 'cast int->float', ops: ['Cast'], build: (g, a) => g.cast(a!, 'float64'), inputs: [ints([3], [4, -2, 7], 'int32')], ref: (a) => a! },
  { name: 'matmul', ops: ['MatMul'], build: (g, a, b) => g.matmul(a!, b!), inputs: [[2, 3], [3, 4]], ref: (a, b) => R.matmul(a!, b!) },
  { name: 'matmul batched broadcast', ops: ['MatMul'], build: (g, a, b) => g.matmul(a!, b!), inputs: [[2, 1, 2, 3], [3, 3, 2]], ref: (a, b) => R.matmul(a!, b!) },
  { name: 'matmul transB rank-2 weight', ops: ['MatMul'], build: (g, a, b) => g.matmul(a!, b!, { transB: true }), inputs: [[2, 3, 4], [5, 4]], ref: (a, b) => R.matmul(a!, b!, false, true) },
  { name: 'matmul transA', ops: ['MatMul'], build: (g, a, b) => g.matmul(a!, b!, { transA: true }), inputs: [[2, 3, 2], [2, 3, 4]], ref: (a, b) => R.matmul(a!, b!, true, false) },
  { name: 'matmul transA transB', ops: ['MatMul'], build: (g, a, b) => g.matmul(a!, b!, { transA: true, transB: true }), inputs: [[3, 2], [4, 3]], ref: (a, b) => R.matmul(a!, b!, true, true) },
  { name: 'transpose', ops: ['Transpose'], build: (g, a) => g.transpose(a!, [2, 0, 1]), inputs: [[2, 3, 4]], ref: (a) => R.transpose(a!, [2, 0, 1]) },
  { name: 'reshape -1', ops: ['Reshape'], build: (g, a) => g.reshape(a!, [-1, 4]), inputs: [[2, 3, 4]], ref: (a) => R.reshape(a!, [6, 4]) },
  { name: 'expand', ops: ['Expand'], build: (g, a) => g.expand(a!, [2, 3, 4]), inputs: [[3, 1]], ref: (a) => R.expand(a!, [2, 3, 4]) },
  { name: 'unsqueeze', ops: ['Unsqueeze'], build: (g, a) => g.unsqueeze(a!, [0, 2]), inputs: [[2, 3]], ref: (a) => R.reshape(a!, [1, 2, 1, 3]) },
  { name: 'squeeze', ops: ['Squeeze'], build: (g, a) => g.squeeze(a!, [1]), inputs: [[2, 1, 3]], ref: (a) => R.reshape(a!, [2, 3]) },
  { name: 'concat', ops: ['Concat'], build: (g, a, b) => g.concat([a!, b!, a!], 1), inputs: [[2, 2], [2, 3]], ref: (a, b) => R.concat([a!, b!, a!], 1) },
  { name: 'slice', ops: ['Slice'], build: (g, a) => g.slice(a!, 1, 1, -1), inputs: [[2, 5]], ref: (a) => R.slice(a!, 1, 1, 4) },
  { name: 'pad', ops: ['Pad'], build: (g, a) => g.pad(a!, 0, 1, 2), inputs: [[2, 3]], ref: (a) => R.pad(a!, 0, 1, 2) },
  { name: 'reduce sum', ops: ['ReduceSum'], build: (g, a) => g.reduceSum(a!, [0, 2]), inputs: [[2, 3, 4]], ref: (a) => R.reduce(a!, [0, 2], false, 'sum') },
  { name: 'reduce mean keepdims', ops: ['ReduceMean'], build: (g, a) => g.reduceMean(a!, [-1], true), inputs: [[2, 3, 4]], ref: (a) => R.reduce(a!, [2], true, 'mean') },
  { name: 'reduce max', ops: ['ReduceMax'], build: (g, a) => g.reduceMax(a!, [1]), inputs: [distinct([2, 4], 3)], ref: (a) => R.reduce(a!, [1], false, 'max') },
  { name: 'softmax', ops: ['Softmax'], build: (g, a) => g.softmax(a!, -1), inputs: [[2, 5]], ref: (a) => R.softmax(a!, 1) },
  { name: 'softmax axis 0', ops: ['Softmax'], build: (g, a) => g.softmax(a!, 0), inputs: [[3, 2]], ref: (a) => R.softmax(a!, 0) },
  { name: 'log softmax', ops: ['LogSoftmax'], build: (g, a) => g.logSoftmax(a!, -1), inputs: [[2, 5]], ref: (a) => R.softmax(a!, 1, true) },
  { name: 'topk values', ops: ['TopK'], build: (g, a) => g.topk(a!, 2, -1).values, inputs: [distinct([2, 5], 1)], ref: (a) => R.topk(a!, 2, 1, true).values },
  { name: 'topk smallest indices', ops: ['TopK'], build: (g, a) => g.topk(a!, 2, -1, false).indices, inputs: [distinct([2, 5], 4)], ref: (a) => R.topk(a!, 2, 1, false).indices },
  { name: 'gather rows (embedding)', ops: ['Gather'], build: (g, t, i) => g.gather(t!, i!, 0), inputs: [[4, 3], ints([2, 3], [0, 3, 3, 1, 0, 2])], ref: (t, i) => R.gather(t!, i!, 0) },
  { name: 'gather axis 1 (forward)', ops: ['Gather'], build: (g, t, i) => g.gather(t!, i!, 1), inputs: [{ shape: [2, 4], differentiable: false }, ints([3], [3, 0, 3], 'int32')], ref: (t, i) => R.gather(t!, i!, 1) },
  { name: 'gather elements', ops: ['GatherElements'], build: (g, t, i) => g.gatherElements(t!, i!, 1), inputs: [[2, 4], ints([2, 2], [1, 3, 0, 0])], ref: (t, i) => R.gatherElements(t!, i!, 1) },
  {
    name: 'scatter add rows',
    ops: ['ScatterAdd'],
    build: (g, d, i, u) => g.scatterAdd(d!, i!, u!),
    inputs: [[4, 2], ints([3], [1, 3, 1]), [3, 2]],
    ref: (d, i, u) => {
      const out = [...d!.data];
      i!.data.forEach((row, p) => [0, 1].forEach((c) => (out[row * 2 + c] += u!.data[p * 2 + c]!)));
      return R.nd([4, 2], out);
    },
  },
  {
    name: 'scatter elements add',
    ops: ['ScatterElementsAdd'],
    build: (g, d, i, u) => g.scatterElementsAdd(d!, i!, u!, 1),
    inputs: [[2, 3], ints([2, 2], [0, 0, 2, 1]), [2, 2]],
    ref: (d, i, u) => {
      const out = [...d!.data];
      i!.data.forEach((col, p) => (out[Math.floor(p / 2) * 3 + col] += u!.data[p]!));
      return R.nd([2, 3], out);
    },
  },
  {
    name: 'softmax cross-entropy per row (ignored row → 0)',
    ops: ['SoftmaxCrossEntropy'],
    build: (g, x, t) => g.softmaxCrossEntropy(x!, t!, -100).loss,
    inputs: [[3, 4], ints([3], [2, -100, 0])],
    ref: (x) => {
      const logp = R.softmax(x!, 1, true);
      return R.nd([3], [-logp.data[0 * 4 + 2]!, 0, -logp.data[2 * 4 + 0]!]);
    },
  },
  {
    name: 'softmax cross-entropy log-probabilities output',
    ops: ['SoftmaxCrossEntropy'],
    build: (g, x, t) => g.softmaxCrossEntropy(x!, t!, -100).logProb,
    inputs: [[2, 3], ints([2], [1, 0], 'int32')],
    ref: (x) => R.softmax(x!, 1, true),
  },
  {
    name: 'sum of three with broadcasting',
    ops: ['Sum'],
    build: (g, a, b, c) => g.sum([a!, b!, c!]),
    inputs: [[2, 3], [3], [2, 1]],
    ref: (a, b, c) => R.zip([a!, b!, c!], (x, y, z) => x + y + z),
  },
  { name: 'constant', ops: ['Constant'], build: (g, a) => g.mul(a!, g.scalar(2.5, 'float64')), inputs: [[3]], ref: (a) => R.map(a!, (x) => 2.5 * x) },
  { name: 'fill symbolic-free', ops: ['Fill'], build: (g, a) => g.add(a!, g.fill([2, 3], 1.5, 'float64')), inputs: [[3]], ref: (a) => R.zip([a!, R.nd([2, 3], new Array(6).fill(1.5))], (x, y) => x + y) },
  {
    name: 'reused value accumulates gradient',
    ops: ['Mul', 'Add'],
    build: (g, a) => g.add(g.mul(a!, a!), g.mul(a!, 3)),
    inputs: [[2, 2]],
    ref: (a) => R.map(a!, (x) => x * x + 3 * x),
  },
];

describe('graph primitive ops: forward vs plain TS, gradient vs finite differences (float64)', () => {
  after(() => clearSessionCache());

  for (const c of cases) {
    it(c.name, async () => {
      const result = await checkOp(c.build, c.inputs, c.ref, c.tol);
      assert.ok(result.forwardError >= 0);
    });
  }

  it('covers every primitive op in the table', () => {
    const covered = new Set(cases.flatMap((c) => c.ops));
    const missing = (Object.keys(OPS) as OpName[]).filter((op) => !covered.has(op));
    assert.deepEqual(missing, []);
  });
});
