/**
 * Every error peft-core throws on bad input. `code` is stable and machine-readable;
 * transports (HTTP, GraphQL, jobs) map codes to their own error shapes in one place.
 */
export class PeftCoreError extends Error {
  constructor(
    readonly code: PeftCoreErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'PeftCoreError';
  }
}

export type PeftCoreErrorCode =
  | 'SAFETENSORS_INVALID'
  | 'ADAPTER_CONFIG_INVALID'
  | 'ADAPTER_TENSORS_INVALID'
  | 'ADAPTER_INCOMPATIBLE'
  | 'MODEL_CONFIG_INVALID'
  | 'CHECKPOINT_INVALID'
  | 'TOKENIZER_INVALID'
  | 'SHAPE_MISMATCH'
  | 'GRAPH_INVALID'
  | 'UNSUPPORTED'
  | 'INVALID_ARGUMENT'
  | 'DATASET_INVALID'
  | 'SINGULAR_MATRIX'
  | 'TRAINING_DIVERGED'
  | 'ROUTER_ARTIFACT_INVALID';
