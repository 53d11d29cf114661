/**
 * Plain TypeScript reference implementations of the graph primitives, in float64, written for
 * clarity rather than speed. The op tests compare onnxruntime's results against these.
 */
export interface Nd {
  shape: number[];
  data: number[];
}

export function nd(shape: number[], data: number[]): Nd {
  const size = shape.reduce((a, b) => a * b, 1);
  if (data.length !== size) throw new Error(`nd: shape [${shape}] needs ${size} values, got ${data.length}`);
  return { shape, data };
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let a = shape.length - 1; a >= 0; a--) {
    idx[a] = i % shape[a]!;
    i = Math.floor(i / shape[a]!);
  }
  return idx;
}

function ravel(idx: readonly number[], shape: readonly number[]): number {
  const st = strides(shape);
  return idx.reduce((acc, v, a) => acc + v * st[a]!, 0);
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  return Array.from({ length: rank }, (_, i) => {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) throw new Error(`cannot broadcast [${a}] and [${b}]`);
    return Math.max(x, y);
  });
}

/** Reads x at an index of a (broadcast) output shape. */
function at(x: Nd, outIdx: readonly number[]): number {
  const lead = outIdx.length - x.shape.length;
  const idx = x.shape.map((d, a) => (d === 1 ? 0 : outIdx[a + lead]!));
  return x.data[ravel(idx, x.shape)]!;
}

export function zip(xs: Nd[], f: (...v: number[]) => number): Nd {
  const shape = xs.map((x) => x.shape).reduce((a, b) => broadcastShape(a, b));
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    return f(...xs.map((x) => at(x, idx)));
  });
  return { shape, data };
}

export function map(x: Nd, f: (v: number) => number): Nd {
  return { shape: [...x.shape], data: x.data.map(f) };
}

export function matmul(a: Nd, b: Nd, transA = false, transB = false): Nd {
  const ta = transA ? transpose(a, swapLast(a.shape.length)) : a;
  const tb = transB ? transpose(b, swapLast(b.shape.length)) : b;
  const [m, k] = ta.shape.slice(-2) as [number, number];
  const n = tb.shape[tb.shape.length - 1]!;
  const batch = broadcastShape(ta.shape.slice(0, -2), tb.shape.slice(0, -2));
  const shape = [...batch, m, n];
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    const bi = idx.slice(0, -2);
    const [r, c] = idx.slice(-2) as [number, number];
    let s = 0;
    for (let q = 0; q < k; q++) s += at(ta, [...bi, r, q]) * at(tb, [...bi, q, c]);
    return s;
  });
  return { shape, data };
}

export function swapLast(rank: number): number[] {
  const p = Array.from({ length: rank }, (_, i) => i);
  [p[rank - 2], p[rank - 1]] = [p[rank - 1]!, p[rank - 2]!];
  return p;
}

export function transpose(x: Nd, perm: readonly number[]): Nd {
  const shape = perm.map((p) => x.shape[p]!);
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    const src = new Array<number>(perm.length);
    perm.forEach((p, a) => (src[p] = idx[a]!));
    return x.data[ravel(src, x.shape)]!;
  });
  return { shape, data };
}

export function reduce(x: Nd, axes: readonly number[], keepdims: boolean, kind: 'sum' | 'max' | 'mean'): Nd {
  const keptShape = x.shape.map((d, a) => (axes.includes(a) ? 1 : d));
  const acc = new Array<number>(size(keptShape)).fill(kind === 'max' ? -Infinity : 0);
  x.data.forEach((v, i) => {
    const idx = unravel(i, x.shape).map((d, a) => (axes.includes(a) ? 0 : d));
    const o = ravel(idx, keptShape);
    acc[o] = kind === 'max' ? Math.max(acc[o]!, v) : acc[o]! + v;
  });
  const count = axes.reduce((c, a) => c * x.shape[a]!, 1);
  const data = kind === 'mean' ? acc.map((v) => v / count) : acc;
  return { shape: keepdims ? keptShape : x.shape.filter((_, a) => !axes.includes(a)), data };
}

export function softmax(x: Nd, axis: number, log = false): Nd {
  const m = reduce(x, [axis], true, 'max');
  const e = zip([x, m], (v, mx) => Math.exp(v - mx));
  const s = reduce(e, [axis], true, 'sum');
  return log ? zip([x, m, s], (v, mx, sum) => v - mx - Math.log(sum)) : zip([e, s], (v, sum) => v / sum);
}

export function gather(x: Nd, idx: Nd, axis: number): Nd {
  const shape = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const o = unravel(i, shape);
    const pick = idx.data[ravel(o.slice(axis, axis + idx.shape.length), idx.shape)]!;
    return x.data[ravel([...o.slice(0, axis), pick, ...o.slice(axis + idx.shape.length)], x.shape)]!;
  });
  return { shape, data };
}

export function gatherElements(x: Nd, idx: Nd, axis: number): Nd {
  const data = idx.data.map((pick, i) => {
    const o = unravel(i, idx.shape);
    o[axis] = pick;
    return x.data[ravel(o, x.shape)]!;
  });
  return { shape: [...idx.shape], data };
}

export function concat(xs: Nd[], axis: number): Nd {
  const shape = [...xs[0]!.shape];
  shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const o = unravel(i, shape);
    let k = o[axis]!;
    for (const x of xs) {
      if (k < x.shape[axis]!) {
        const src = [...o];
        src[axis] = k;
        return x.data[ravel(src, x.shape)]!;
      }
      k -= x.shape[axis]!;
    }
    throw new Error('unreachable');
  });
  return { shape, data };
}

export function slice(x: Nd, axis: number, start: number, end: number): Nd {
  const shape = [...x.shape];
  shape[axis] = end - start;
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const o = unravel(i, shape);
    o[axis] = o[axis]! + start;
    return x.data[ravel(o, x.shape)]!;
  });
  return { shape, data };
}

export function pad(x: Nd, axis: number, before: number, after: number): Nd {
  const shape = [...x.shape];
  shape[axis] = shape[axis]! + before + after;
  const data = Array.from({ length: size(shape) }, (_, i) => {
    const o = unravel(i, shape);
    const k = o[axis]! - before;
    if (k < 0 || k >= x.shape[axis]!) return 0;
    o[axis] = k;
    return x.data[ravel(o, x.shape)]!;
  });
  return { shape, data };
}

export function topk(x: Nd, k: number, axis: number, largest: boolean): { values: Nd; indices: Nd } {
  const shape = [...x.shape];
  shape[axis] = k;
  const values: number[] = new Array(size(shape));
  const indices: number[] = new Array(size(shape));
  const outer = unravelAll(x.shape.map((d, a) => (a === axis ? 1 : d)));
  for (const base of outer) {
    const row = Array.from({ length: x.shape[axis]! }, (_, j) => {
      const idx = [...base];
      idx[axis] = j;
      return { v: x.data[ravel(idx, x.shape)]!, j };
    });
    row.sort((p, q) => (largest ? q.v - p.v : p.v - q.v) || p.j - q.j);
    for (let j = 0; j < k; j++) {
      const idx = [...base];
      idx[axis] = j;
      values[ravel(idx, shape)] = row[j]!.v;
      indices[ravel(idx, shape)] = row[j]!.j;
    }
  }
  return { values: { shape, data: values }, indices: { shape: [...shape], data: indices } };
}

function unravelAll(shape: readonly number[]): number[][] {
  return Array.from({ length: size(shape) }, (_, i) => unravel(i, shape));
}

export function expand(x: Nd, shape: readonly number[]): Nd {
  const out = broadcastShape(x.shape, shape);
  return { shape: out, data: unravelAll(out).map((idx) => at(x, idx)) };
}

export function reshape(x: Nd, shape: number[]): Nd {
  return { shape, data: [...x.data] };
}
