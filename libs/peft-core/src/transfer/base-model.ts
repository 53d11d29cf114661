/**
 * What the Trans-LoRA pipeline needs to know about a base model and its tokenizer, and the checks
 * that refuse inputs that cannot work before any graph is compiled.
 */
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { linearShape } from '../formats/model-modules';
import type { LoraWeights } from '../lora/adapter';
import type { HostTensor } from '../tensor/host-tensor';
import type { TextTokenizer } from '../train/data';

/** A loaded base model (e.g. `loadCheckpoint(dir)`). */
export interface BaseModel {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
}

/** A tokenizer whose vocabulary size is known (`Tokenizer` fits), so it can be checked against its model. */
export interface SizedTokenizer extends TextTokenizer {
  readonly vocabSize: number;
}

/**
 * A tokenizer can drive a model when every id it produces has an embedding row and it has an EOS
 * (generation stops on it, training appends it). Models may pad their vocabulary upward, so a
 * model vocabulary larger than the tokenizer's is fine.
 */
export function checkTokenizerFitsModel(config: ModelConfig, tokenizer: SizedTokenizer, role: string): void {
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new PeftCoreError(
      'TOKENIZER_INVALID',
      `${role}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary has only ${config.vocabSize} rows (tokenizer and model do not belong together)`,
      { role, tokenizerVocabSize: tokenizer.vocabSize, modelVocabSize: config.vocabSize },
    );
  }
  if (tokenizer.eosTokenId === undefined) {
    throw new PeftCoreError('TOKENIZER_INVALID', `${role}: the tokenizer has no EOS token (needed to end generations and training completions)`, { role });
  }
}

const LAYER_PATH = /^model\.layers\.(\d+)\./;

/**
 * Every module of `adapter` must be a projection of `config` with A [r, in] and B [out, r] of that
 * projection's shape: an adapter trained on another base (other width, depth or GQA layout) is refused.
 */
export function checkAdapterFitsBase(adapter: LoraWeights, config: ModelConfig, role: string): void {
  if (adapter.modules.size === 0) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `${role}: the adapter has no LoRA modules`);
  for (const [path, m] of adapter.modules) {
    const layer = LAYER_PATH.exec(path);
    if (layer !== null && Number(layer[1]) >= config.numLayers) {
      throw incompatible(role, path, `layer ${layer[1]} does not exist in a ${config.numLayers}-layer base`);
    }
    let out: number;
    let inFeatures: number;
    try {
      [out, inFeatures] = linearShape(config, path);
    } catch {
      throw incompatible(role, path, 'is not a linear projection of this base');
    }
    const r = m.A.shape[0];
    const aOk = m.A.shape.length === 2 && m.A.shape[1] === inFeatures;
    const bOk = m.B.shape.length === 2 && m.B.shape[0] === out && m.B.shape[1] === r;
    if (!aOk || !bOk) {
      throw incompatible(role, path, `has A [${m.A.shape.join(', ')}] and B [${m.B.shape.join(', ')}], but the base's weight is [${out}, ${inFeatures}] (expected A [r, ${inFeatures}], B [${out}, r]): the adapter was trained on a different base`);
    }
  }
}

function incompatible(role: string, path: string, what: string): PeftCoreError {
  return new PeftCoreError('ADAPTER_INCOMPATIBLE', `${role}: adapter module ${path} ${what}`, { role, module: path });
}

/**
 * Seeds are real task prompts. Empty ones are refused rather than dropped, and a seed may not
 * contain the few-shot separator (it would read as two prompts).
 */
export function checkSeeds(seeds: readonly string[], separator: string, role: string): void {
  if (seeds.length === 0) {
    throw new PeftCoreError('INVALID_ARGUMENT', `${role}: no seed examples (give a handful of real task prompts; the paper uses 5)`);
  }
  seeds.forEach((s, i) => {
    if (s.trim().length === 0) throw new PeftCoreError('INVALID_ARGUMENT', `${role}: seed example ${i} is empty`);
    if (s.includes(separator)) {
      throw new PeftCoreError('INVALID_ARGUMENT', `${role}: seed example ${i} contains the few-shot separator ${JSON.stringify(separator)}; choose another separator`);
    }
  });
}
