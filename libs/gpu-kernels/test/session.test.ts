import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
  MatmulProbe,
  resolveSessionSettings,
  sessionCacheSize,
  settingsKey,
  toOrtSessionOptions,
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

  it('measures MatMul throughput as the best of several sizes', async () => {
    const peak = await matmulPeakGflops({ sizes: [64, 128], iterations: 2, session: { intraOpThreads: 1 } });
    assert.ok(peak.gflops > 0 && Number.isFinite(peak.gflops));
    assert.deepEqual(peak.bySize.map((s) => s.size), [64, 128]);
    assert.equal(peak.gflops, Math.max(...peak.bySize.map((s) => s.gflops)));
    assert.ok(peak.bySize.some((s) => s.size === peak.size && s.gflops === peak.gflops));
    assert.ok(matmulModel(4).length > 0);
    const probe = await MatmulProbe.open(64, { intraOpThreads: 1 });
    const first = await probe.sample();
    const second = await probe.sample();
    assert.equal(probe.best, Math.max(first, second));
    await probe.dispose();
  });

  it('fills session defaults, validates options and keys the cache by every setting', async () => {
    const s = resolveSessionSettings({});
    assert.equal(s.allowSpinning, false);
    assert.equal(s.interOpThreads, 1);
    assert.equal(s.graphOptimization, 'all');
    assert.throws(() => resolveSessionSettings({ intraOpThreads: 0 }), /intraOpThreads must be a positive integer/);
    assert.throws(() => resolveSessionSettings({ interOpThreads: 1.5 }), /interOpThreads must be a positive integer/);
    const ortOptions = toOrtSessionOptions(resolveSessionSettings({ allowSpinning: true, intraOpThreads: 2 }), 'cpu');
    assert.deepEqual(ortOptions.extra, { session: { intra_op: { allow_spinning: '1' }, inter_op: { allow_spinning: '1' } } });
    assert.equal(ortOptions.intraOpNumThreads, 2);
    assert.notEqual(settingsKey(resolveSessionSettings({ allowSpinning: true })), settingsKey(s));
    assert.equal(settingsKey(resolveSessionSettings({ allowSpinning: false })), settingsKey(s));

    await clearSessionCache();
    const spinning = await createSession(addModel(), { allowSpinning: true });
    const quiet = await createSession(addModel(), { allowSpinning: false, memoryPattern: false, cpuArena: false });
    assert.equal(sessionCacheSize(), 2);
    const x = kernelTensor('float32', [1, 3], [1, 1, 1]);
    assert.deepEqual(Array.from((await quiet.run({ x })).y!.data as Float32Array), [2, 3, 4]);
    await spinning.dispose();
    await quiet.dispose();
  });

  it('loads initializers from in-memory external data and keys the cache by it', async () => {
    const external = (location: string): Uint8Array =>
      encodeModel({
        graphName: 'add_external',
        nodes: [{ opType: 'Add', inputs: ['x', 'b'], outputs: ['y'] }],
        inputs: [{ name: 'x', elemType: 'float32', dims: [1, 3] }],
        outputs: [{ name: 'y', elemType: 'float32', dims: [1, 3] }],
        initializers: [{ name: 'b', elemType: 'float32', dims: [3], raw: new Uint8Array(0), external: { location, offset: 4, length: 12 } }],
        opsets: { '': 18 },
      });
    const file = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);
    await clearSessionCache();
    const a = await createSession(external('w.bin'), { externalData: [{ path: 'w.bin', data: file([99, 1, 2, 3]) }] });
    const b = await createSession(external('w.bin'), { externalData: [{ path: 'w.bin', data: file([99, 10, 20, 30]) }] });
    assert.equal(sessionCacheSize(), 2, 'different external bytes are different sessions');
    const x = kernelTensor('float32', [1, 3], [1, 1, 1]);
    assert.deepEqual(Array.from((await a.run({ x })).y!.data as Float32Array), [2, 3, 4]);
    assert.deepEqual(Array.from((await b.run({ x })).y!.data as Float32Array), [11, 21, 31]);
    await a.dispose();
    await b.dispose();
    await assert.rejects(createSession(external('missing.bin')), (e: unknown) => e instanceof KernelError && e.code === 'SESSION_FAILED');
  });

  it('writes an onnxruntime profile and returns its path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpu-kernels-profile-'));
    const s = await createSession(addModel(), { profilePrefix: path.join(dir, 'add') });
    await s.run({ x: kernelTensor('float32', [1, 3]) });
    const file = s.endProfiling();
    assert.ok(file !== undefined && file.startsWith(path.join(dir, 'add')));
    const events = JSON.parse(fs.readFileSync(file, 'utf8')) as { cat?: string; args?: { op_name?: string } }[];
    assert.ok(events.some((e) => e.cat === 'Node' && e.args?.op_name === 'Add'));
    await s.dispose();
    const plain = await createSession(addModel());
    assert.equal(plain.endProfiling(), undefined);
    await plain.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
