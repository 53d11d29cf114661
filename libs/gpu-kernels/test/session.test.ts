import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  availableDevices,
  clearSessionCache,
  createSession,
  encodeModel,
  KernelError,
  kernelTensor,
  matmulModel,
  matmulPeakGflops,
  sessionCacheSize,
} from '../src';

/** y = x + b, with b an initializer: the smallest model that exercises inputs and initializers. */
function addModel(): Uint8Array {
  return encodeModel({
    graphName: 'add',
    nodes: [{ opType: 'Add', inputs: ['x', 'b'], outputs: ['y'] }],
    inputs: [{ name: 'x', elemType: 'float32', dims: ['batch', 3] }],
    outputs: [{ name: 'y', elemType: 'float32', dims: ['batch', 3] }],
    initializers: [{ name: 'b', elemType: 'float32', dims: [3], raw: new Uint8Array(Float32Array.of(1, 2, 3).buffer) }],
    opsets: { '': 18 },
  });
}

describe('gpu-kernels sessions', () => {
  after(() => clearSessionCache());

  it('always offers cpu', () => {
    assert.ok(availableDevices().includes('cpu'));
  });

  it('runs a hand-encoded model with a symbolic batch dim', async () => {
    const s = await createSession(addModel());
    assert.deepEqual(s.inputNames, ['x']);
    const out = await s.run({ x: kernelTensor('float32', [2, 3], [0, 1, 2, 3, 4, 5]) });
    assert.deepEqual([...out.y!.shape], [2, 3]);
    assert.deepEqual(Array.from(out.y!.data as Float32Array), [1, 3, 5, 4, 6, 8]);
    await s.dispose();
  });

  it('rejects unknown and unavailable devices with an error listing the available ones', async () => {
    const list = availableDevices().join(', ');
    await assert.rejects(createSession(addModel(), { device: 'tpu' }), (e: unknown) => e instanceof KernelError && e.code === 'DEVICE_UNAVAILABLE' && e.message.includes(list));
    if (!availableDevices().includes('cuda')) {
      await assert.rejects(createSession(addModel(), { device: 'cuda' }), (e: unknown) => e instanceof KernelError && e.message.includes(`available devices: ${list}`));
    }
  });

  it('checks feeds against the graph inputs before running', async () => {
    const s = await createSession(addModel());
    const x = kernelTensor('float32', [1, 3]);
    await assert.rejects(s.run({}), /missing input\(s\): x/);
    await assert.rejects(s.run({ x, z: x }), /unexpected input\(s\): z/);
    await assert.rejects(s.run({ x: kernelTensor('float64', [1, 3]) }), /input 'x' must be float32, got float64/);
    await assert.rejects(s.run({ x: kernelTensor('float32', [1, 4]) }), /input 'x' must have shape \[batch, 3\], got \[1, 4\]/);
    await assert.rejects(s.run({ x }, ['nope']), /unknown output\(s\) nope/);
    await s.dispose();
  });

  it('shares one runtime session per model bytes and options, released with the last handle', async () => {
    await clearSessionCache();
    const a = await createSession(addModel());
    const b = await createSession(addModel());
    assert.equal(sessionCacheSize(), 1);
    await createSession(addModel(), { intraOpThreads: 1 }).then((c) => c.dispose());
    assert.equal(sessionCacheSize(), 1);
    await a.dispose();
    assert.equal(sessionCacheSize(), 1);
    const out = await b.run({ x: kernelTensor('float32', [1, 3]) });
    assert.deepEqual(Array.from(out.y!.data as Float32Array), [1, 2, 3]);
    await b.dispose();
    assert.equal(sessionCacheSize(), 0);
    await assert.rejects(b.run({ x: kernelTensor('float32', [1, 3]) }), /disposed/);
  });

  it('reports a load failure with the device list', async () => {
    await assert.rejects(createSession(Uint8Array.of(1, 2, 3)), (e: unknown) => e instanceof KernelError && e.code === 'SESSION_FAILED' && /available devices: cpu/.test(e.message));
  });

  it('measures MatMul throughput on a small matrix', async () => {
    const peak = await matmulPeakGflops({ size: 128, iterations: 2 });
    assert.ok(peak.gflops > 0 && Number.isFinite(peak.gflops));
    assert.equal(peak.size, 128);
    assert.ok(matmulModel(4).length > 0);
  });
});
