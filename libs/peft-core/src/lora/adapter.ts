import type { HostTensor } from '../tensor/host-tensor';

/** One adapted linear module: ΔW = scaling · B·A, A [r, in], B [out, r]. */
export interface LoraModule {
  /** Module path inside the base model, e.g. 'model.layers.0.self_attn.q_proj'. */
  readonly path: string;
  readonly A: HostTensor;
  readonly B: HostTensor;
  /** alpha / r, or alpha / sqrt(r) with rsLoRA, after rank and alpha patterns. */
  readonly scaling: number;
  /** DoRA magnitude vector [out], when the adapter uses DoRA. */
  readonly magnitude?: HostTensor;
}

/** A LoRA adapter in memory: its modules keyed by module path. */
export interface LoraWeights {
  readonly modules: ReadonlyMap<string, LoraModule>;
}
