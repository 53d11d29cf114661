/**
 * A Llama-family decoder's configuration, normalised from Hugging Face config.json
 * (Llama, Mistral, Qwen2, SmolLM). Produced by parseModelConfig in hf-config.ts.
 */
export interface ModelConfig {
  /** model_type from config.json ('llama', 'mistral', 'qwen2', ...). */
  readonly family: string;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  readonly numKvHeads: number;
  /** Explicit head_dim when config.json has one, else hiddenSize / numHeads. */
  readonly headDim: number;
  readonly rmsNormEps: number;
  readonly ropeTheta: number;
  readonly maxPositionEmbeddings: number;
  readonly tieWordEmbeddings: boolean;
  /** Bias on q/k/v projections (Qwen2 always; Llama when attention_bias is true). */
  readonly attentionBias: boolean;
  readonly bosTokenId?: number;
  readonly eosTokenId?: number | number[];
  /** torch_dtype as written in config.json, e.g. 'float32', 'bfloat16'. */
  readonly torchDtype: string;
  /**
   * rope_scaling from config.json, kept verbatim (e.g. Llama 3.1's {rope_type: 'llama3', ...}).
   * Absent means plain RoPE; model code that does not implement a given rope_type must refuse it.
   */
  readonly ropeScaling?: Readonly<Record<string, unknown>>;
}

/** The linear projections of a decoder layer that LoRA can target. */
export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];
