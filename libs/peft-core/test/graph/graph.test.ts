import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clearSessionCache } from '@palette/gpu-kernels';
import { PeftCoreError } from '../../src/errors';
import { compile, emitOnnx, gradients, Graph, tensorData } from '../../src/graph';

const shapeError = (pattern: RegExp) => (e: unknown) => e instanceof PeftCoreError && e.code === 'SHAPE_MISMATCH' && pattern.test(e.message);

describe('shape and dtype inference', () => {
  it('broadcasts symbolic dims and names the op and shapes on mismatch', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 'seq', 4]);
    assert.deepEqual(g.add(x, g.input('b', 'float32', [4])).shape, ['batch', 'seq', 4]);
    assert.throws(() => g.add(x, g.input('c', 'float32', [3])), shapeError(/Add: shapes \[batch,seq,4\] and \[3\] do not broadcast/));
    assert.throws(() => g.matmul(x, g.input('w', 'float32', [5, 2])), shapeError(/MatMul: inner dims differ \(4 vs 5\)/));
    assert.throws(() => g.add(x, g.input('i', 'int64', [4])), shapeError(/Add: operand dtypes differ/));
  });

  it('infers reshapes that merge and split symbolic axes', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 'seq', 4]);
    const flat = g.reshape(x, [-1, 2]);
    assert.deepEqual(flat.shape, ['2*batch*seq', 2]);
    assert.deepEqual(g.reshape(flat, ['batch', -1, 4]).shape, ['batch', 'seq', 4]);
    assert.throws(() => g.reshape(x, [3, -1]), shapeError(/cannot infer -1/));
  });

  it('rejects values from another graph and duplicate names', () => {
    const g = new Graph();
    const other = new Graph().input('x', 'float32', [1]);
    assert.throws(() => g.neg(other), /does not belong to this graph/);
    g.input('x', 'float32', [1]);
    assert.throws(() => g.input('x', 'float32', [1]), /already used/);
  });

  it('gradients need a float scalar loss', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    assert.throws(() => gradients(g, x, [x]), /loss must be a float scalar/);
  });
});

describe('ONNX emission', () => {
  after(() => clearSessionCache());

  it('drops nodes and inputs the chosen outputs do not need', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2]);
    const unused = g.input('unused', 'float32', [2]);
    g.output('y', g.exp(x));
    g.output('z', g.log(unused));
    const only = emitOnnx(g, { outputs: ['y'] });
    assert.deepEqual(only.inputNames, ['x']);
    assert.ok(!Buffer.from(only.bytes).includes(Buffer.from('Log')));
    assert.throws(() => emitOnnx(g, { outputs: ['nope'] }), /unknown output 'nope'/);
  });

  it('embeds initializers and outputs a value under two names', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['n']);
    const b = g.initializer('bias', tensorData('float32', [1], [10]));
    const y = g.add(x, b);
    g.output('y', y);
    g.output('y_again', y);
    g.output('bias_out', b);
    const c = await compile(g);
    const r = await c.run({ x: tensorData('float32', [3], [1, 2, 3]) });
    assert.deepEqual(Array.from(r.y!.data as Float32Array), [11, 12, 13]);
    assert.deepEqual(Array.from(r.y_again!.data as Float32Array), [11, 12, 13]);
    assert.deepEqual(Array.from(r.bias_out!.data as Float32Array), [10]);
  });

  it('assembles reshape targets at run time when symbols move', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['a', 'b']);
    const t = g.reshape(g.transpose(x), ['b', 'a', 1]);
    g.output('y', g.reshape(t, [1, 'b', 'a']));
    const c = await compile(g);
    const r = await c.run({ x: tensorData('float32', [2, 3], [0, 1, 2, 3, 4, 5]) });
    assert.deepEqual([...r.y!.shape], [1, 3, 2]);
    assert.deepEqual(Array.from(r.y!.data as Float32Array), [0, 3, 1, 4, 2, 5]);
  });

  it('skips gradient work for frozen operands', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 'seq', 16]);
    const frozen = g.initializer('w', tensorData('float32', [16, 16]));
    const a = g.input('lora_A', 'float32', [2, 16]);
    const y = g.add(g.matmul(x, frozen, { transB: true }), g.matmul(g.matmul(x, a, { transB: true }), g.input('lora_B', 'float32', [16, 2]), { transB: true }));
    const before = g.nodes.length;
    gradients(g, g.reduceSum(y, [0, 1, 2]), [a]);
    const matmuls = g.nodes.slice(before).filter((n) => n.op === 'MatMul').length;
    // dA needs dy·B then (..)ᵀ·x; nothing is spent on the frozen weight or on x.
    assert.equal(matmuls, 2);
  });
});
