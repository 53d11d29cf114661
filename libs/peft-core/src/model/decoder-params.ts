import { PeftCoreError } from '../errors';
import { expectedWeightShapes } from '../formats/hf-config';
import type { ModelConfig } from '../formats/model-config';
import type { Graph } from '../graph/graph';
import type { Value } from '../graph/value';
import { tensorData } from '../graph/tensor-data';
import type { HostTensor } from '../tensor/host-tensor';

/**
 * Every weight of a decoder as a graph value, keyed by its Hugging Face name
 * ('model.layers.0.self_attn.q_proj.weight', ...). The caller decides which are graph inputs
 * (trainable, fed each step) and which are initializers (frozen, baked into the model).
 */
export type DecoderParams = ReadonlyMap<string, Value>;

export interface DeclareParamsOptions {
  /** Names for which a graph input is declared instead of an initializer. Default: none. */
  readonly trainable?: (name: string) => boolean;
  /** Prefix for graph tensor names (default ''), e.g. to keep two models apart in one graph. */
  readonly namePrefix?: string;
}

/**
 * Declares one graph value per weight the config expects: initializers that reference the host
 * weights' bytes (no copy), or float32 inputs of the same shape for trainable names.
 * Throws CHECKPOINT_INVALID naming the first missing or misshapen weight.
 */
export function declareDecoderParams(
  g: Graph,
  config: ModelConfig,
  weights: ReadonlyMap<string, HostTensor>,
  options: DeclareParamsOptions = {},
): Map<string, Value> {
  const trainable = options.trainable ?? ((): boolean => false);
  const prefix = options.namePrefix ?? '';
  const params = new Map<string, Value>();
  for (const [name, shape] of expectedWeightShapes(config)) {
    const t = weights.get(name);
    if (t === undefined) throw new PeftCoreError('CHECKPOINT_INVALID', `weights are missing ${name}`);
    checkShape(name, t.shape, shape);
    params.set(name, trainable(name) ? g.input(prefix + name, 'float32', shape) : g.initializer(prefix + name, tensorData('float32', shape, t.data)));
  }
  return params;
}

/** Declares every weight as a float32 graph input (base weights fed at run time). */
export function declareDecoderParamInputs(g: Graph, config: ModelConfig, namePrefix = ''): Map<string, Value> {
  const params = new Map<string, Value>();
  for (const [name, shape] of expectedWeightShapes(config)) params.set(name, g.input(namePrefix + name, 'float32', shape));
  return params;
}

/** The parameter for a weight name, its shape checked; throws CHECKPOINT_INVALID when absent. */
export function requireParam(params: DecoderParams, name: string, shape: readonly number[]): Value {
  const v = params.get(name);
  if (v === undefined) throw new PeftCoreError('CHECKPOINT_INVALID', `decoder params are missing ${name}`);
  if (v.dtype !== 'float32') throw new PeftCoreError('CHECKPOINT_INVALID', `${name} must be float32, got ${v.dtype}`);
  checkShape(name, v.shape, shape);
  return v;
}

function checkShape(name: string, actual: readonly (number | string)[], expected: readonly number[]): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new PeftCoreError('CHECKPOINT_INVALID', `${name} has shape [${actual.join(', ')}], expected [${expected.join(', ')}]`);
  }
}
