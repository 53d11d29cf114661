import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeftCoreError } from '../errors';
import { Rng } from '../util/rng';
import { AdamW } from './adamw';
import { clipGradNorm, GradientAccumulator } from './gradients';
import { cosineWithWarmup } from './schedule';

const isCode = (code: string) => (e: unknown) => e instanceof PeftCoreError && e.code === code;
const close = (a: ArrayLike<number>, b: readonly number[], tol: number) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `[${i}] ${a[i]} vs ${b[i]}`);
};

test('AdamW first step: decoupled decay, then a bias-corrected step of ≈ lr·sign(g)', () => {
  const p = Float32Array.from([1, -2, 0.5]);
  const opt = new AdamW(new Map([['w', p]]), { lr: 0.1, weightDecay: 0.01 });
  opt.step(new Map([['w', Float32Array.from([0.5, 0.1, -3])]]));
  // t=1: m̂ = g, √v̂ = |g|, so θ ← θ(1 − 0.1·0.01) − 0.1·g/(|g| + 1e-8).
  close(p, [1 * 0.999 - (0.1 * 0.5) / (0.5 + 1e-8), -2 * 0.999 - (0.1 * 0.1) / (0.1 + 1e-8), 0.5 * 0.999 + (0.1 * 3) / (3 + 1e-8)], 1e-7);
  close(p, [0.899, -2.098, 0.5995], 1e-6);
});

test('AdamW two steps match the PyTorch update written out by hand', () => {
  const lr = 0.01;
  const [b1, b2, eps, wd] = [0.8, 0.99, 1e-6, 0.1];
  const p = Float32Array.from([0.3, -0.7]);
  const opt = new AdamW(new Map([['w', p]]), { lr, beta1: b1, beta2: b2, eps, weightDecay: wd });
  const g1 = [0.2, -0.4];
  const g2 = [-0.1, 0.05];
  opt.step(new Map([['w', Float32Array.from(g1)]]));
  opt.step(new Map([['w', Float32Array.from(g2)]]));
  const expected = [0.3, -0.7].map((theta0, i) => {
    let theta = theta0;
    let m = 0;
    let v = 0;
    [g1[i], g2[i]].forEach((g, k) => {
      const t = k + 1;
      theta *= 1 - lr * wd;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const denom = Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps;
      theta -= (lr / (1 - b1 ** t)) * (m / denom);
    });
    return theta;
  });
  close(p, expected, 1e-7);
  // Spelled-out numbers for step 1 of element 0: θ = 0.3·0.999 − 0.01·0.2/(0.2+1e-6) = 0.28970005.
  assert.ok(Math.abs(0.3 * 0.999 - (0.01 * 0.2) / (0.2 + 1e-6) - 0.28970005) < 1e-8);
});

test('AdamW: decay filter, skipped parameters and bad gradients', () => {
  const w = Float32Array.from([1, 1]);
  const norm = Float32Array.from([1, 1]);
  const frozen = Float32Array.from([5]);
  const opt = new AdamW(new Map([['w', w], ['norm', norm], ['frozen', frozen]]), { lr: 0.5, weightDecay: 0.2, decays: (n) => n !== 'norm' });
  const zero = new Float32Array(2);
  opt.step(new Map([['w', zero], ['norm', zero]]));
  // Zero gradient: only decay moves θ (m = 0 so the Adam term is 0/(0+eps) = 0).
  close(w, [0.9, 0.9], 1e-7);
  close(norm, [1, 1], 0);
  close(frozen, [5], 0);
  assert.equal(opt.state().params.frozen.step, 0);
  assert.equal(opt.state().params.w.step, 1);
  assert.throws(() => opt.step(new Map([['w', new Float32Array(3)]])), isCode('SHAPE_MISMATCH'));
  assert.throws(() => opt.step(new Map([['nope', new Float32Array(3)]])), isCode('INVALID_ARGUMENT'));
});

test('AdamW resumes bit-exactly from state()/loadState()', () => {
  const rng = new Rng(1);
  const init = Float32Array.from({ length: 64 }, () => rng.normal());
  const grads = Array.from({ length: 10 }, () => Float32Array.from({ length: 64 }, () => rng.normal()));
  const sched = cosineWithWarmup({ baseLr: 0.05, warmupSteps: 2, totalSteps: 10 });

  const straight = init.slice();
  const a = new AdamW(new Map([['p', straight]]));
  grads.forEach((g, s) => a.step(new Map([['p', g]]), sched(s)));

  const resumed = init.slice();
  const b = new AdamW(new Map([['p', resumed]]));
  grads.slice(0, 4).forEach((g, s) => b.step(new Map([['p', g]]), sched(s)));
  const snapshot = { params: structuredClone(b.state().params) };
  const checkpointParams = resumed.slice();
  // A fresh optimizer over restored parameters continues identically.
  const c = new AdamW(new Map([['p', checkpointParams]]));
  c.loadState(snapshot);
  grads.slice(4).forEach((g, s) => c.step(new Map([['p', g]]), sched(s + 4)));
  assert.deepEqual(checkpointParams, straight);
  assert.throws(() => c.loadState({ params: {} }), isCode('INVALID_ARGUMENT'));
});

test('cosineWithWarmup: linear warm-up from 0, cosine to minLr, flat afterwards', () => {
  const lr = cosineWithWarmup({ baseLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-4 });
  assert.equal(lr(0), 0);
  assert.ok(Math.abs(lr(5) - 5e-4) < 1e-15);
  assert.ok(Math.abs(lr(10) - 1e-3) < 1e-15);
  assert.ok(Math.abs(lr(60) - 5.5e-4) < 1e-15); // halfway: min + (base − min)/2
  assert.ok(Math.abs(lr(35) - (1e-4 + 9e-4 * 0.5 * (1 + Math.cos(Math.PI / 4)))) < 1e-15);
  assert.ok(Math.abs(lr(110) - 1e-4) < 1e-15);
  assert.ok(Math.abs(lr(500) - 1e-4) < 1e-15);
  const noWarm = cosineWithWarmup({ baseLr: 2, warmupSteps: 0, totalSteps: 4 });
  assert.deepEqual([0, 1, 2, 3, 4].map(noWarm).map((x) => Math.round(x * 1e12) / 1e12), [2, 1.707106781187, 1, 0.292893218813, 0]);
  assert.throws(() => cosineWithWarmup({ baseLr: 1, warmupSteps: 5, totalSteps: 4 }), isCode('INVALID_ARGUMENT'));
});

test('clipGradNorm: global norm across tensors, PyTorch coefficient, no-op below the limit', () => {
  const a = Float32Array.from([3, 0]);
  const b = Float32Array.from([0, 4]);
  const total = clipGradNorm(new Map([['a', a], ['b', b]]), 1);
  assert.equal(total, 5);
  const coef = 1 / (5 + 1e-6);
  close(a, [3 * coef, 0], 1e-7);
  close(b, [0, 4 * coef], 1e-7);
  const c = Float32Array.from([0.3, 0.4]);
  assert.ok(Math.abs(clipGradNorm([c], 1) - 0.5) < 1e-7);
  assert.deepEqual(c, Float32Array.from([0.3, 0.4]));
  const bad = Float32Array.from([NaN, 1]);
  assert.ok(Number.isNaN(clipGradNorm([bad], 1)));
  assert.equal(bad[1], 1);
});

test('GradientAccumulator: weighted mean equals the big-batch token-mean gradient; reset clears', () => {
  const acc = new GradientAccumulator(new Map([['w', 2]]));
  // Micro-batch 1 has 3 target tokens with mean gradient [1, 2]; micro-batch 2 has 1 token with [5, -2].
  acc.add(new Map([['w', Float32Array.from([1, 2])]]), 3);
  acc.add(new Map([['w', Float32Array.from([5, -2])]]), 1);
  assert.equal(acc.count, 2);
  close(acc.result().get('w')!, [2, 1], 1e-7);
  close(acc.result('sum').get('w')!, [8, 4], 1e-7);
  acc.reset();
  assert.equal(acc.count, 0);
  assert.throws(() => acc.result(), isCode('INVALID_ARGUMENT'));
  assert.throws(() => acc.add(new Map()), /no gradient for w/);
});
