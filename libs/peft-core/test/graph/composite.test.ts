import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { clearSessionCache } from '@palette/gpu-kernels';
import { compile, gradients, Graph, nn, tensorData } from '../../src/graph';
import { Rng } from '../../src/util/rng';
import { checkOp, InputSpec } from './check-op';
import * as R from './reference';

const ints = (shape: number[], values: number[]): InputSpec => ({ shape, dtype: 'int64', values });

function refRmsNorm(x: R.Nd, w: R.Nd, eps: number): R.Nd {
  const ms = R.reduce(R.map(x, (v) => v * v), [x.shape.length - 1], true, 'mean');
  return R.zip([x, ms, w], (v, m, s) => (v / Math.sqrt(m + eps)) * s);
}

function refRotateHalf(x: R.Nd): R.Nd {
  const d = x.shape[x.shape.length - 1]!;
  const ax = x.shape.length - 1;
  return R.concat([R.map(R.slice(x, ax, d / 2, d), (v) => -v), R.slice(x, ax, 0, d / 2)], ax);
}

function refAttention(q: R.Nd, k: R.Nd, v: R.Nd, mask: R.Nd): R.Nd {
  const d = q.shape[q.shape.length - 1]!;
  const scores = R.zip([R.matmul(q, k, false, true), mask], (s, m) => s / Math.sqrt(d) + m);
  return R.matmul(R.softmax(scores, scores.shape.length - 1), v);
}

describe('composite layers from primitives (float64, gradients vs finite differences)', () => {
  after(() => clearSessionCache());

  it('RMSNorm', async () => {
    await checkOp((g, x, w) => nn.rmsNorm(g, x!, w!, 1e-5), [[2, 3, 4], [4]], (x, w) => refRmsNorm(x!, w!, 1e-5));
  });

  it('SwiGLU', async () => {
    const silu = (v: number): number => v / (1 + Math.exp(-v));
    await checkOp((g, a, b) => nn.swiglu(g, a!, b!), [[2, 5], [2, 5]], (a, b) => R.zip([a!, b!], (x, y) => silu(x) * y));
  });

  it('RoPE with rotate-half', async () => {
    await checkOp(
      (g, x, c, s) => nn.applyRope(g, x!, c!, s!),
      [[1, 2, 3, 4], [3, 4], [3, 4]],
      (x, c, s) => R.zip([R.zip([x!, c!], (a, b) => a * b), R.zip([refRotateHalf(x!), s!], (a, b) => a * b)], (a, b) => a + b),
    );
  });

  it('softmax cross-entropy with an ignore mask', async () => {
    const targets = [2, -100, 0, 4, -100, 1];
    const result = await checkOp(
      (g, logits, t) => nn.crossEntropy(g, logits!, t!),
      [[2, 3, 5], ints([2, 3], targets)],
      (logits) => {
        const logp = R.softmax(logits!, 2, true);
        let total = 0;
        let count = 0;
        targets.forEach((t, i) => {
          if (t === -100) return;
          total -= logp.data[i * 5 + t]!;
          count += 1;
        });
        return R.nd([], [total / count]);
      },
    );
    assert.equal(result.gradientsChecked, 30);
  });

  it('cross-entropy is 0 with zero gradient when every target is ignored', async () => {
    await checkOp((g, logits, t) => nn.crossEntropy(g, logits!, t!), [[1, 2, 3], ints([1, 2], [-100, -100])], () => R.nd([], [0]));
  });

  it('grouped-query attention block with an additive causal mask', async () => {
    const s = 3;
    const mask = Array.from({ length: s * s }, (_, i) => (i % s <= Math.floor(i / s) ? 0 : -1e9));
    await checkOp(
      (g, q, k, v, m) => nn.attention(g, q!, nn.repeatKv(g, k!, 2), nn.repeatKv(g, v!, 2), { mask: m! }),
      [[1, 4, s, 2], [1, 2, s, 2], [1, 2, s, 2], { shape: [s, s], values: mask, differentiable: false }],
      (q, k, v, m) => {
        const rep = (x: R.Nd): R.Nd => R.reshape(R.expand(R.reshape(x, [1, 2, 1, s, 2]), [1, 2, 2, s, 2]), [1, 4, s, 2]);
        return refAttention(q!, rep(k!), rep(v!), m!);
      },
      // The -1e9 mask entries cost a few ulps of 1e9 in the scores before softmax removes them.
      { atol: 1e-7 },
    );
  });

  it('2-layer MLP: all parameters', async () => {
    const result = await checkOp(
      (g, x, w1, b1, w2) => nn.linear(g, g.tanh(nn.linear(g, x!, w1!, b1!)), w2!),
      [[2, 3, 4], [5, 4], [5], [2, 5]],
      (x, w1, b1, w2) => R.matmul(R.map(R.zip([R.matmul(x!, w1!, false, true), b1!], (a, b) => a + b), Math.tanh), w2!, false, true),
    );
    assert.equal(result.gradientsChecked, 24 + 20 + 5 + 10);
  });

  it('LoRA rows gathered per batch element from a stacked pool', async () => {
    // y_b = x_b·Wᵀ + B[idx_b]·(A[idx_b]·x_b): the S-LoRA / Punica wiring.
    await checkOp(
      (g, x, w, poolA, poolB, idx) => {
        const a = g.gather(poolA!, idx!); // [batch, r, in]
        const b = g.gather(poolB!, idx!); // [batch, out, r]
        const lora = g.matmul(g.matmul(x!, a, { transB: true }), b, { transB: true });
        return g.add(nn.linear(g, x!, w!), lora);
      },
      [[3, 2, 4], { shape: [5, 4], differentiable: false }, [2, 2, 4], [2, 5, 2], ints([3], [1, 0, 1])],
      (x, w, pa, pb, idx) => {
        const a = R.gather(pa!, idx!, 0);
        const b = R.gather(pb!, idx!, 0);
        const base = R.matmul(x!, w!, false, true);
        return R.zip([base, R.matmul(R.matmul(x!, a, false, true), b, false, true)], (p, q) => p + q);
      },
    );
  });
});

describe('symbolic dims and float32 execution', () => {
  after(() => clearSessionCache());

  it('one graph with symbolic batch and seq runs at several sizes, gradients match float64', async () => {
    const build = (dtype: 'float32' | 'float64'): Graph => {
      const g = new Graph();
      const x = g.input('x', dtype, ['batch', 'seq', 4]);
      const w = g.input('w', dtype, [3, 4]);
      const h = g.reshape(nn.linear(g, x, w), [-1, 3]); // ['batch*seq', 3]
      const y = g.reshape(g.softmax(h), ['batch', 'seq', 3]);
      const loss = g.reduceMean(g.mul(y, y), [0, 1, 2]);
      g.output('loss', loss);
      g.output('dw', gradients(g, loss, [w])[0]!);
      return g;
    };
    const rng = new Rng(7);
    const w = Array.from({ length: 12 }, () => rng.normal());
    const g32 = await compile(build('float32'));
    const g64 = await compile(build('float64'), { fusedMatMul: false });
    for (const [b, s] of [
      [1, 1],
      [2, 5],
    ] as const) {
      const x = Array.from({ length: b * s * 4 }, () => rng.normal());
      const r32 = await g32.run({ x: tensorData('float32', [b, s, 4], x), w: tensorData('float32', [3, 4], w) });
      const r64 = await g64.run({ x: tensorData('float64', [b, s, 4], x), w: tensorData('float64', [3, 4], w) });
      assert.deepEqual([...r32.dw!.shape], [3, 4]);
      const d32 = Array.from(r32.dw!.data as Float32Array);
      const d64 = Array.from(r64.dw!.data as Float64Array);
      d32.forEach((v, i) => assert.ok(Math.abs(v - d64[i]!) < 1e-5, `dw[${i}] ${v} vs ${d64[i]}`));
    }
    // The float32 training graph uses FusedMatMul for the transposed matmuls; the float64 one cannot.
    assert.ok(Buffer.from(g32.model).includes(Buffer.from('FusedMatMul')));
    assert.ok(!Buffer.from(g64.model).includes(Buffer.from('FusedMatMul')));
  });

  it('a deep chain (3000 nodes with its gradient) differentiates without recursion limits', async () => {
    const depth = 500;
    const g = new Graph();
    const x = g.input('x', 'float64', [2]);
    let h = x;
    for (let i = 0; i < depth; i++) h = g.add(g.mul(g.sin(h), 0.9), 0.1);
    const loss = g.reduceSum(h, [0]);
    g.output('dx', gradients(g, loss, [x])[0]!);
    const c = await compile(g, { graphOptimization: 'basic' });
    const r = await c.run({ x: tensorData('float64', [2], [1, 2]) });
    [1, 2].forEach((x0, i) => {
      let v = x0;
      let d = 1;
      for (let k = 0; k < depth; k++) {
        d *= 0.9 * Math.cos(v);
        v = 0.9 * Math.sin(v) + 0.1;
      }
      const got = (r.dx!.data as Float64Array)[i]!;
      assert.ok(Math.abs(got - d) <= 1e-9 * Math.max(1, Math.abs(d)), `dx[${i}] ${got} vs ${d}`);
    });
  });
});
