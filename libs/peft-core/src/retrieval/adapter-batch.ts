/**
 * The weight encoder's view of a base model (its "layout": which layer types, how many layers,
 * their in/out widths) and the host-side packing of a batch of LoRA adapters into the encoder's
 * dense inputs.
 *
 * Per layer type `t` a batch of N adapters becomes
 *   A.<t>    [N, L, R_t, in_t]    every adapter's A of layer l, rank zero-padded to the batch max R_t,
 *   B.<t>    [N, L, out_t, R_t]   scaling · B (the scaling is folded in, so the encoder sees s·B·A),
 *   mask.<t> [N, L]               1 where the adapter adapts (layer l, type t), else 0.
 * Zero-padding the rank adds zero rows to A and zero columns to B: B·A is unchanged, so the
 * encoder, which reads the adapter only through B·A, is rank-padding invariant by construction.
 */
import { PeftCoreError } from '../errors';
import { LINEAR_MODULES, type ModelConfig } from '../formats/model-config';
import { linearShape } from '../formats/model-modules';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { sketchModuleKey } from '../sketch/weight-sketch';

/** One adapted layer type (a token type of the encoder): e.g. q_proj with its [out, in] widths. */
export interface EncoderModuleType {
  readonly name: string;
  readonly inDim: number;
  readonly outDim: number;
}

/** The base-model structure a weight encoder is built for. */
export interface EncoderLayout {
  readonly numLayers: number;
  readonly types: readonly EncoderModuleType[];
}

/** The layout of a Llama-family base: its decoder layers × the given linear types (default all seven). */
export function encoderLayoutFor(base: ModelConfig, types: readonly string[] = LINEAR_MODULES): EncoderLayout {
  if (types.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'encoder layout: at least one layer type is needed');
  if (new Set(types).size !== types.length) throw new PeftCoreError('INVALID_ARGUMENT', `encoder layout: repeated layer types in ${types.join(', ')}`);
  return {
    numLayers: base.numLayers,
    types: types.map((name) => {
      const [outDim, inDim] = linearShape(base, name);
      return { name, inDim, outDim };
    }),
  };
}

/** Graph input names of the adapter batch, per layer type. */
export const ADAPTER_INPUT_NAMES = {
  A: (type: string): string => `adapter.${type}.A`,
  B: (type: string): string => `adapter.${type}.B`,
  mask: (type: string): string => `adapter.${type}.mask`,
} as const;

/** The symbolic rank dimension of one layer type's inputs. */
export function rankDim(type: string): string {
  return `rank_${type}`;
}

export interface PackOptions {
  /** Element type of the packed tensors (float64 for gradient checks). Default float32. */
  readonly dtype?: 'float32' | 'float64';
}

interface Placed {
  readonly module: LoraModule;
  readonly layer: number;
}

/**
 * Which (type, layer) slots an adapter fills. Modules outside the decoder layers (lm_head,
 * embed_tokens) are not part of the encoder's input and are skipped; any other module must fit
 * the layout exactly (ADAPTER_INCOMPATIBLE otherwise). DoRA magnitudes are not encoded.
 */
function placeModules(layout: EncoderLayout, weights: LoraWeights, index: number): Map<string, Placed[]> {
  const byType = new Map<string, Placed[]>(layout.types.map((t) => [t.name, []]));
  const seen = new Set<string>();
  for (const module of weights.modules.values()) {
    const { type, layer } = sketchModuleKey(module.path);
    if (layer < 0) continue;
    const spec = layout.types.find((t) => t.name === type);
    if (!spec) {
      throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `adapter ${index}: ${module.path} is a "${type}" layer, which this weight encoder does not cover (it covers ${layout.types.map((t) => t.name).join(', ')})`);
    }
    if (layer >= layout.numLayers) {
      throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `adapter ${index}: ${module.path} is in layer ${layer}, the encoder's base has ${layout.numLayers} layers`);
    }
    const [r, inDim] = module.A.shape as [number, number];
    const [outDim, rB] = module.B.shape as [number, number];
    if (module.A.shape.length !== 2 || module.B.shape.length !== 2 || r !== rB || inDim !== spec.inDim || outDim !== spec.outDim) {
      throw new PeftCoreError(
        'ADAPTER_INCOMPATIBLE',
        `adapter ${index}: ${module.path} has A ${JSON.stringify(module.A.shape)} and B ${JSON.stringify(module.B.shape)}; the encoder expects A [r, ${spec.inDim}] and B [${spec.outDim}, r]`,
      );
    }
    const key = `${type}/${layer}`;
    if (seen.has(key)) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `adapter ${index}: two modules for layer ${layer} ${type}`);
    seen.add(key);
    byType.get(type)!.push({ module, layer });
  }
  if (seen.size === 0) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `adapter ${index} adapts no decoder layer: there is nothing to encode`);
  return byType;
}

/** Packs a batch of adapters into the encoder's feeds (see the file comment for the layout). */
export function packAdapterBatch(layout: EncoderLayout, adapters: readonly LoraWeights[], options: PackOptions = {}): Record<string, TensorData> {
  if (adapters.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'packAdapterBatch: the batch is empty');
  const dtype = options.dtype ?? 'float32';
  const placed = adapters.map((w, i) => placeModules(layout, w, i));
  const N = adapters.length;
  const L = layout.numLayers;
  const feeds: Record<string, TensorData> = {};
  for (const type of layout.types) {
    const entries = placed.map((p) => p.get(type.name)!);
    // Rank 1 when no adapter in the batch has this type: an all-zero slot the mask hides.
    const R = Math.max(1, ...entries.flatMap((list) => list.map((e) => e.module.A.shape[0]!)));
    const A = dtype === 'float32' ? new Float32Array(N * L * R * type.inDim) : new Float64Array(N * L * R * type.inDim);
    const B = dtype === 'float32' ? new Float32Array(N * L * type.outDim * R) : new Float64Array(N * L * type.outDim * R);
    const mask = dtype === 'float32' ? new Float32Array(N * L) : new Float64Array(N * L);
    entries.forEach((list, n) => {
      for (const { module, layer } of list) {
        const r = module.A.shape[0]!;
        const slot = n * L + layer;
        mask[slot] = 1;
        A.set(module.A.data, slot * R * type.inDim); // rows r..R-1 stay zero
        const bBase = slot * type.outDim * R;
        const b = module.B.data;
        for (let o = 0; o < type.outDim; o++) {
          for (let j = 0; j < r; j++) B[bBase + o * R + j] = module.scaling * b[o * r + j]!;
        }
      }
    });
    feeds[ADAPTER_INPUT_NAMES.A(type.name)] = tensorData(dtype, [N, L, R, type.inDim], A);
    feeds[ADAPTER_INPUT_NAMES.B(type.name)] = tensorData(dtype, [N, L, type.outDim, R], B);
    feeds[ADAPTER_INPUT_NAMES.mask(type.name)] = tensorData(dtype, [N, L], mask);
  }
  return feeds;
}
