import { PeftCoreError } from '../errors';
import { svdOfProduct } from '../linalg/truncated-svd';
import { hostTensor } from '../tensor/host-tensor';
import { Rng } from '../util/rng';
import type { LoraModule, LoraWeights } from './adapter';
import { loraModuleDims, type LoraModuleDims } from './delta';

/**
 * How several adapters become one (PEFT `add_weighted_adapter`, LoRAX merge strategies):
 * - 'cat': exact; A = vstack(w_i s_i A_i), B = hstack(B_i), rank Σ r_i.
 * - 'svd': exact ΔW = Σ w_i s_i B_i A_i, truncated to `svdRank`: B = U_r diag(S_r), A = V_rᵀ.
 * - 'linear': PEFT's A/B-space average, A = Σ c_i A_i, B = Σ c_i B_i with c_i = √(w_i s_i). Its ΔW has
 *   cross terms c_i c_j B_i A_j (i ≠ j), so it is NOT Σ w_i ΔW_i; prefer 'cat' or 'svd' for correctness.
 * - 'ties', 'dare_linear', 'dare_ties': the same A/B-space merge after TIES trimming / sign election or
 *   DARE random dropping (see ALGORITHMS.md "Combining adapters").
 */
export type CombinationMethod = 'cat' | 'linear' | 'svd' | 'ties' | 'dare_linear' | 'dare_ties';

export interface WeightedAdapter {
  readonly weights: LoraWeights;
  readonly weight: number;
}

export interface CombineOptions {
  /** Fraction of entries kept by TIES trimming or DARE dropping, in (0, 1]. Required for ties/dare methods. */
  readonly density?: number;
  /** TIES sign election: 'total' = sign of the sum (PEFT default), 'frequency' = sign of the sum of signs. */
  readonly majoritySign?: 'total' | 'frequency';
  /** Rank of the 'svd' result per module. Default: the largest input rank of that module (PEFT: max of ranks). */
  readonly svdRank?: number;
  /** Seed of DARE's Bernoulli masks. Default 0. */
  readonly seed?: number;
}

/**
 * Combines weighted adapters into one adapter with scaling 1 (the scales s_i are folded into the
 * factors, as PEFT does by setting lora_alpha = r of the result).
 *
 * A module present in only some adapters is combined over those that have it; this equals treating
 * it as a zero adapter elsewhere (zero ΔW for cat/svd; zero tensors, which never win a TIES sign
 * election, for the A/B-space methods). Modules are visited in sorted path order, adapters in the
 * given order, A before B, entries row-major: the DARE masks depend only on `seed` and that order.
 *
 * Negative weights [inferred]: for the A/B-space methods c_i = √|w_i s_i| and the sign of w_i s_i is
 * applied to A_i only, so each B_i A_i term keeps its sign (plain PEFT takes √(w_i s_i) and so only
 * supports w_i s_i ≥ 0; the two agree there).
 */
export function combineAdapters(adapters: readonly WeightedAdapter[], method: CombinationMethod, options: CombineOptions = {}): LoraWeights {
  if (adapters.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'combineAdapters: no adapters given');
  for (const [i, a] of adapters.entries()) {
    if (!Number.isFinite(a.weight)) throw new PeftCoreError('INVALID_ARGUMENT', `combineAdapters: adapter ${i} has non-finite weight ${a.weight}`);
  }
  const needsDensity = method === 'ties' || method === 'dare_linear' || method === 'dare_ties';
  const density = options.density;
  if (needsDensity && (density === undefined || !(density > 0 && density <= 1))) {
    throw new PeftCoreError('INVALID_ARGUMENT', `combineAdapters(${method}): density must be in (0, 1], got ${density}`);
  }
  if (options.svdRank !== undefined && !(Number.isInteger(options.svdRank) && options.svdRank > 0)) {
    throw new PeftCoreError('INVALID_ARGUMENT', `combineAdapters: svdRank must be a positive integer, got ${options.svdRank}`);
  }
  const rng = new Rng(options.seed ?? 0);
  const paths = [...new Set(adapters.flatMap((a) => [...a.weights.modules.keys()]))].sort();
  const modules = new Map<string, LoraModule>();
  for (const path of paths) {
    const present: PresentModule[] = [];
    for (const a of adapters) {
      const m = a.weights.modules.get(path);
      if (m !== undefined) present.push({ module: m, weight: a.weight, dims: loraModuleDims(m) });
    }
    const dims = checkCompatible(path, present);
    let combined: { A: Float32Array; B: Float32Array; r: number };
    switch (method) {
      case 'cat':
        combined = combineCat(present, dims);
        break;
      case 'svd':
        combined = combineSvd(present, dims, options.svdRank);
        break;
      case 'linear':
      case 'ties':
      case 'dare_linear':
      case 'dare_ties':
        combined = combineFactorwise(path, present, method, {
          density: density ?? 1,
          majoritySign: options.majoritySign ?? 'total',
          rng,
        });
        break;
      default:
        throw new PeftCoreError('UNSUPPORTED', `combineAdapters: unknown method '${String(method)}'`);
    }
    modules.set(path, {
      path,
      A: hostTensor([combined.r, dims.in], combined.A),
      B: hostTensor([dims.out, combined.r], combined.B),
      scaling: 1,
    });
  }
  return { modules };
}

interface PresentModule {
  readonly module: LoraModule;
  readonly weight: number;
  readonly dims: LoraModuleDims;
}

function checkCompatible(path: string, present: readonly PresentModule[]): LoraModuleDims {
  const first = present[0].dims;
  for (const p of present) {
    if (p.module.magnitude !== undefined) {
      throw new PeftCoreError('UNSUPPORTED', `${path}: combining DoRA adapters is not supported (magnitude vectors cannot be mixed)`);
    }
    if (p.dims.out !== first.out || p.dims.in !== first.in) {
      throw new PeftCoreError(
        'ADAPTER_INCOMPATIBLE',
        `${path}: adapters disagree on the module shape ([${first.out}, ${first.in}] vs [${p.dims.out}, ${p.dims.in}])`,
      );
    }
  }
  return first;
}

/** Stacks the factors: A rows w_i s_i A_i, B columns B_i, so B·A = Σ w_i s_i B_i A_i exactly. */
function stackFactors(present: readonly PresentModule[], dims: LoraModuleDims): { A: Float64Array; B: Float64Array; r: number } {
  const r = present.reduce((s, p) => s + p.dims.r, 0);
  const a = new Float64Array(r * dims.in);
  const b = new Float64Array(dims.out * r);
  let offset = 0;
  for (const p of present) {
    const f = p.weight * p.module.scaling;
    const ai = p.module.A.data;
    const bi = p.module.B.data;
    const ri = p.dims.r;
    for (let j = 0; j < ri * dims.in; j++) a[offset * dims.in + j] = f * ai[j];
    for (let row = 0; row < dims.out; row++) {
      for (let j = 0; j < ri; j++) b[row * r + offset + j] = bi[row * ri + j];
    }
    offset += ri;
  }
  return { A: a, B: b, r };
}

function combineCat(present: readonly PresentModule[], dims: LoraModuleDims): { A: Float32Array; B: Float32Array; r: number } {
  const s = stackFactors(present, dims);
  return { A: Float32Array.from(s.A), B: Float32Array.from(s.B), r: s.r };
}

function combineSvd(
  present: readonly PresentModule[],
  dims: LoraModuleDims,
  svdRank: number | undefined,
): { A: Float32Array; B: Float32Array; r: number } {
  const s = stackFactors(present, dims);
  const rank = Math.min(svdRank ?? Math.max(...present.map((p) => p.dims.r)), dims.out, dims.in);
  // The exact SVD of ΔW = B_cat·A_cat, computed from the factors (never forming ΔW).
  const { U, S, V, k } = svdOfProduct(s.B, s.A, dims.out, s.r, dims.in);
  const a = new Float32Array(rank * dims.in);
  const b = new Float32Array(dims.out * rank);
  const kept = Math.min(rank, k); // components beyond rank(ΔW) stay zero
  for (let j = 0; j < kept; j++) {
    for (let c = 0; c < dims.in; c++) a[j * dims.in + c] = V[c * k + j];
    for (let row = 0; row < dims.out; row++) b[row * rank + j] = U[row * k + j] * S[j];
  }
  return { A: a, B: b, r: rank };
}

interface FactorwiseSettings {
  readonly density: number;
  readonly majoritySign: 'total' | 'frequency';
  readonly rng: Rng;
}

function combineFactorwise(
  path: string,
  present: readonly PresentModule[],
  method: 'linear' | 'ties' | 'dare_linear' | 'dare_ties',
  settings: FactorwiseSettings,
): { A: Float32Array; B: Float32Array; r: number } {
  const r = present[0].dims.r;
  if (present.some((p) => p.dims.r !== r)) {
    throw new PeftCoreError(
      'ADAPTER_INCOMPATIBLE',
      `${path}: '${method}' needs equal ranks, got ${present.map((p) => p.dims.r).join(', ')}; use 'cat' or 'svd'`,
    );
  }
  const ws = present.map((p) => p.weight * p.module.scaling);
  const bWeights = ws.map((w) => Math.sqrt(Math.abs(w)));
  const aWeights = ws.map((w, i) => Math.sign(w) * bWeights[i]);
  const mergeOne = (tensors: Float32Array[], weights: number[]): Float32Array => {
    switch (method) {
      case 'linear':
        return weightedSum(tensors, weights);
      case 'ties':
        return tiesMerge(tensors.map((t) => magnitudePrune(t, settings.density)), weights, settings.majoritySign);
      case 'dare_linear':
        return weightedSum(tensors.map((t) => dareDrop(t, settings.density, settings.rng)), weights);
      case 'dare_ties':
        return tiesMerge(tensors.map((t) => dareDrop(t, settings.density, settings.rng)), weights, settings.majoritySign);
    }
  };
  const A = mergeOne(present.map((p) => p.module.A.data), aWeights);
  const B = mergeOne(present.map((p) => p.module.B.data), bWeights);
  return { A, B, r };
}

/** Σ_i c_i X_i (PEFT `task_arithmetic`), accumulated in f64. */
export function weightedSum(tensors: readonly Float32Array[], weights: readonly number[]): Float32Array {
  const n = tensors[0].length;
  const acc = new Float64Array(n);
  tensors.forEach((t, i) => {
    for (let j = 0; j < n; j++) acc[j] += weights[i] * t[j];
  });
  return Float32Array.from(acc);
}

/**
 * Keeps the floor(density·n) entries of largest magnitude and zeroes the rest (PEFT
 * `magnitude_based_pruning`, which uses int(density·numel) and topk). Ties in magnitude are broken
 * by lower index [inferred: torch.topk leaves the order of equal values unspecified].
 */
export function magnitudePrune(t: Float32Array, density: number): Float32Array {
  const keep = Math.floor(density * t.length);
  const order = Array.from({ length: t.length }, (_, i) => i).sort((x, y) => Math.abs(t[y]) - Math.abs(t[x]) || x - y);
  const out = new Float32Array(t.length);
  for (let j = 0; j < keep; j++) out[order[j]] = t[order[j]];
  return out;
}

/** DARE: keep each entry with probability `density` (one uniform draw per entry, row-major) and rescale kept ones by 1/density. */
export function dareDrop(t: Float32Array, density: number, rng: Rng): Float32Array {
  const out = new Float32Array(t.length);
  for (let j = 0; j < t.length; j++) {
    if (rng.uniform() < density) out[j] = t[j] / density;
  }
  return out;
}

/**
 * TIES sign election and disjoint merge over already-trimmed tensors (PEFT `ties` after pruning):
 * elected sign per entry = sign of Σ X_i ('total') or of Σ sign(X_i) ('frequency'), ties going to +;
 * entry i counts when sign(X_i) equals the elected sign (so zeros never count);
 * result = Σ c_i X_i [agrees] / max(1, #agreeing).
 */
export function tiesMerge(trimmed: readonly Float32Array[], weights: readonly number[], majoritySign: 'total' | 'frequency'): Float32Array {
  const n = trimmed[0].length;
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let vote = 0;
    for (const t of trimmed) vote += majoritySign === 'total' ? t[j] : Math.sign(t[j]);
    const elected = vote >= 0 ? 1 : -1;
    let sum = 0;
    let count = 0;
    trimmed.forEach((t, i) => {
      if (Math.sign(t[j]) === elected) {
        sum += weights[i] * t[j];
        count++;
      }
    });
    out[j] = sum / Math.max(1, count);
  }
  return out;
}
