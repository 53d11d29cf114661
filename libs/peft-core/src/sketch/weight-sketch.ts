/**
 * A deterministic, training-free weight embedding of a LoRA adapter ("sketch"), used for
 * similarity search over adapters before (or instead of) the learned AutoLoRA encoder.
 *
 * Method. For each adapted module m with ΔW_m = s_m · B_m A_m ([out, in]):
 * 1. Probe: K fixed Gaussian vectors x_1..x_K ∈ R^in, drawn from a generator seeded by the
 *    module's layer type (e.g. 'q_proj') and in-dim, so every adapter sees the same probes.
 * 2. Respond: t_k = s_m · B_m (A_m x_k) ∈ R^out. This touches the adapter only through the
 *    product B·A, so any re-parameterisation A' = M A, B' = B M⁻¹ (and any rank padding with
 *    zeros) gives the same t_k: the sketch is basis-invariant by construction.
 * 3. Project: add R_{type,layer,k} t_k into a `dim`-vector, where R is a fixed random sign
 *    projection (a count sketch with HASHES_PER_COORDINATE hashed ±1/√h entries per output
 *    coordinate), keyed by (layer type, layer index, probe index). It preserves inner products
 *    in expectation (Johnson–Lindenstrauss style) at O(K · out) cost per module, with no
 *    [dim, out] matrix ever materialised, so 4096-wide models sketch quickly.
 * 4. L2-normalise the sum. Cosine similarity of sketches then estimates the cosine of the
 *    adapters' stacked ΔW responses, module for module (same type and layer land in the same
 *    coordinates, different ones in independent random ones).
 *
 * The result has `dim` entries whatever the adapter's ranks; a global rescaling of every ΔW
 * leaves it unchanged; an adapter with no modules sketches to the zero vector.
 */
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { Rng } from '../util/rng';

/** Probe vectors per module. */
export const SKETCH_PROBES = 8;
const HASHES_PER_COORDINATE = 4;

/** FNV-1a over a string, for stable seeds. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** A 32-bit integer mix (murmur3 finaliser), used to hash (key, coordinate) pairs. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

interface ModuleKey {
  readonly type: string;
  readonly layer: number;
}

/** 'model.layers.3.self_attn.q_proj' -> {type: 'q_proj', layer: 3}; modules outside layers get layer -1. */
export function sketchModuleKey(modulePath: string): ModuleKey {
  const type = modulePath.slice(modulePath.lastIndexOf('.') + 1);
  const m = /(?:^|\.)layers\.(\d+)\./.exec(modulePath);
  return { type, layer: m ? Number(m[1]) : -1 };
}

function probes(type: string, inDim: number, cache: Map<string, Float32Array[]>): Float32Array[] {
  const key = `${type}/${inDim}`;
  let out = cache.get(key);
  if (!out) {
    const rng = new Rng(hashString(`probe:${key}`));
    out = Array.from({ length: SKETCH_PROBES }, () => Float32Array.from({ length: inDim }, () => rng.normal()));
    cache.set(key, out);
  }
  return out;
}

/** t = scaling · B (A x), computed in float64 accumulators. */
function respond(module: LoraModule, x: Float32Array, ax: Float64Array, t: Float64Array): void {
  const [r, inDim] = module.A.shape;
  const out = module.B.shape[0];
  const a = module.A.data;
  const b = module.B.data;
  for (let i = 0; i < r; i++) {
    let s = 0;
    const row = i * inDim;
    for (let j = 0; j < inDim; j++) s += a[row + j] * x[j];
    ax[i] = s;
  }
  for (let o = 0; o < out; o++) {
    let s = 0;
    const row = o * r;
    for (let i = 0; i < r; i++) s += b[row + i] * ax[i];
    t[o] = module.scaling * s;
  }
}

function checkModule(module: LoraModule, base: ModelConfig): void {
  const { A, B } = module;
  if (A.shape.length !== 2 || B.shape.length !== 2 || A.shape[0] !== B.shape[1]) {
    throw new PeftCoreError('SHAPE_MISMATCH', `${module.path}: A ${JSON.stringify(A.shape)} and B ${JSON.stringify(B.shape)} do not form B·A`);
  }
  const { layer } = sketchModuleKey(module.path);
  if (layer >= base.numLayers) {
    throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `${module.path}: layer ${layer} does not exist in a ${base.numLayers}-layer base`);
  }
}

/** The adapter's sketch: a unit `dim`-vector (see the method above). */
export function weightSketch(weights: LoraWeights, base: ModelConfig, dim = 256): Float32Array {
  if (!Number.isInteger(dim) || dim <= 0) throw new PeftCoreError('SHAPE_MISMATCH', `sketch dim must be a positive integer, got ${dim}`);
  const acc = new Float64Array(dim);
  const probeCache = new Map<string, Float32Array[]>();
  const scale = 1 / Math.sqrt(HASHES_PER_COORDINATE);
  // Sorted so that float summation order, hence the exact result, does not depend on map order.
  for (const path of [...weights.modules.keys()].sort()) {
    const module = weights.modules.get(path) as LoraModule;
    checkModule(module, base);
    const { type, layer } = sketchModuleKey(path);
    const [r, inDim] = module.A.shape;
    const out = module.B.shape[0];
    const ax = new Float64Array(r);
    const t = new Float64Array(out);
    const xs = probes(type, inDim, probeCache);
    for (let k = 0; k < xs.length; k++) {
      respond(module, xs[k], ax, t);
      const seed = hashString(`proj:${type}/${layer}/${k}`);
      for (let o = 0; o < out; o++) {
        if (t[o] === 0) continue;
        let h = mix32(seed ^ Math.imul(o + 1, 0x9e3779b1));
        for (let c = 0; c < HASHES_PER_COORDINATE; c++) {
          h = mix32(h + c);
          const bucket = h % dim;
          acc[bucket] += (h & 0x80000000 ? -scale : scale) * t[o];
        }
      }
    }
  }
  let norm = 0;
  for (const v of acc) norm += v * v;
  norm = Math.sqrt(norm);
  const result = new Float32Array(dim);
  if (norm > 0) for (let i = 0; i < dim; i++) result[i] = acc[i] / norm;
  return result;
}

/** Cosine similarity of two sketches (they are unit vectors, so this is their dot product). */
export function sketchSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new PeftCoreError('SHAPE_MISMATCH', `sketches of different sizes: ${a.length} vs ${b.length}`);
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += a[i] * b[i];
  return dot;
}
