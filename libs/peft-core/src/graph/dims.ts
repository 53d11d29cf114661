import { Dim, Shape, shapeError } from './types';

/**
 * Dimension algebra for shape inference with symbols. A dim is kept as a monomial:
 * coef · sym1 · sym2 ... (symbols sorted), which covers what reshapes that merge or split
 * symbolic axes need. Anything else stays an opaque symbol.
 */
interface Monomial {
  coef: number;
  syms: string[];
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function toMonomial(d: Dim): Monomial {
  if (typeof d === 'number') return { coef: d, syms: [] };
  const parts = d.split('*');
  if (parts.length > 1 && parts.every((p) => IDENT.test(p) || /^\d+$/.test(p))) {
    let coef = 1;
    const syms: string[] = [];
    for (const p of parts) {
      if (/^\d+$/.test(p)) coef *= Number(p);
      else syms.push(p);
    }
    return { coef, syms: syms.sort() };
  }
  return { coef: 1, syms: [d] };
}

function fromMonomial(m: Monomial): Dim {
  if (m.syms.length === 0) return m.coef;
  if (m.coef === 1 && m.syms.length === 1) return m.syms[0]!;
  return [...(m.coef === 1 ? [] : [String(m.coef)]), ...m.syms].join('*');
}

export function mulDims(a: Dim, b: Dim): Dim {
  const x = toMonomial(a);
  const y = toMonomial(b);
  return fromMonomial({ coef: x.coef * y.coef, syms: [...x.syms, ...y.syms].sort() });
}

/** a / b when it is exact (b's symbols all appear in a, coefficients divide); undefined otherwise. */
export function divDims(a: Dim, b: Dim): Dim | undefined {
  const x = toMonomial(a);
  const y = toMonomial(b);
  if (y.coef === 0 || x.coef % y.coef !== 0) return undefined;
  const syms = [...x.syms];
  for (const s of y.syms) {
    const i = syms.indexOf(s);
    if (i < 0) return undefined;
    syms.splice(i, 1);
  }
  return fromMonomial({ coef: x.coef / y.coef, syms });
}

export function numelDim(shape: Shape): Dim {
  return shape.reduce<Dim>((acc, d) => mulDims(acc, d), 1);
}

/** The base symbols of a dim and its numeric factor, for resolving it at run time. */
export function dimFactors(d: Dim): { coef: number; syms: string[] } {
  return toMonomial(d);
}

export function sameDim(a: Dim, b: Dim): boolean {
  return a === b || (typeof a === 'string' && typeof b === 'string' && fromMonomial(toMonomial(a)) === fromMonomial(toMonomial(b)));
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => sameDim(d, b[i]!));
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === 'number');
}

/**
 * Numpy broadcasting of two shapes. Fixed sizes must agree (or be 1). A symbol against a fixed
 * size or another symbol is accepted and checked by the runtime, as ONNX shape inference does.
 */
export function broadcastShapes(op: string, a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    out.push(broadcastDim(op, da, db, a, b));
  }
  return out;
}

function broadcastDim(op: string, da: Dim, db: Dim, a: Shape, b: Shape): Dim {
  if (sameDim(da, db)) return da;
  if (da === 1) return db;
  if (db === 1) return da;
  if (typeof da === 'number' && typeof db === 'number') {
    throw shapeError(`${op}: shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast (${da} vs ${db})`);
  }
  return typeof da === 'number' ? da : typeof db === 'number' ? db : da;
}

export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw shapeError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}
