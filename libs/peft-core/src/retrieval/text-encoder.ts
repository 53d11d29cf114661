/**
 * The text side of AutoLoRA retrieval: a frozen encoder that turns a caption into a pooled
 * feature vector, and a trained projection (text-projection.ts) into the shared 256-d space.
 *
 * Default encoder, nothing downloaded: the platform's own base model. Captions are tokenized,
 * right-padded, run through the decoder (`buildDecoderForward`'s final-normed `hidden`), and
 * mean-pooled over real tokens. Right padding keeps the pooled value exact: under the causal mask
 * a real token never attends to the padding after it, and the pooling mask drops the padding's
 * own rows.
 *
 * The optional ONNX sentence encoder (onnx-sentence-encoder.ts) implements the same interface.
 */
import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import { compile, type CompiledGraph } from '../graph/compile';
import { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import { buildDecoderForward } from '../model/decoder';
import { declareDecoderInputs, stepFeeds } from '../model/decoder-inputs';
import { declareDecoderParams } from '../model/decoder-params';
import type { HostTensor } from '../tensor/host-tensor';

/** A frozen text encoder: texts → pooled features of `featureDim` (not yet projected). */
export interface TextFeatureEncoder {
  /** 'base-model' or 'onnx'; recorded in the retriever artifact. */
  readonly kind: string;
  /** Identifies the frozen encoder (e.g. the base model's name or checkpoint digest). */
  readonly id: string;
  readonly featureDim: number;
  features(texts: readonly string[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

/** Anything that turns text into token ids (the peft-core Tokenizer fits). */
export interface CaptionTokenizer {
  encode(text: string): number[];
}

export interface BaseModelTextEncoderOptions {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly tokenizer: CaptionTokenizer;
  /** Stable id of the base (its registry name or weights digest): part of the embedding space id. */
  readonly id: string;
  /** Tokens kept per caption (longer ones are truncated). Default 64. */
  readonly maxTokens?: number;
  /** Captions per forward pass. Default 16. */
  readonly batchSize?: number;
  /** Prepended to every caption when the tokenizer does not add it itself. */
  readonly bosTokenId?: number;
}

/** Mean-pooled final hidden states of the platform's base model. */
export class BaseModelTextEncoder implements TextFeatureEncoder {
  readonly kind = 'base-model';

  private constructor(
    readonly id: string,
    readonly featureDim: number,
    private readonly options: BaseModelTextEncoderOptions,
    private readonly graph: CompiledGraph,
  ) {}

  static async create(options: BaseModelTextEncoderOptions): Promise<BaseModelTextEncoder> {
    const { config } = options;
    const g = new Graph();
    const params = declareDecoderParams(g, config, options.weights);
    const inputs = declareDecoderInputs(g, config);
    const { hidden } = buildDecoderForward(g, config, params, inputs);
    const mask = g.input('token_mask', 'float32', ['batch', 'seq']);
    const pooled = g.div(g.reduceSum(g.mul(hidden, g.unsqueeze(mask, [2])), [1]), g.reduceSum(mask, [1], true));
    g.output('pooled', pooled);
    return new BaseModelTextEncoder(options.id, config.hiddenSize, options, await compile(g, { outputs: ['pooled'] }));
  }

  private tokenize(text: string): number[] {
    const maxTokens = this.options.maxTokens ?? 64;
    const bos = this.options.bosTokenId;
    let ids = this.options.tokenizer.encode(text);
    if (bos !== undefined && ids[0] !== bos) ids = [bos, ...ids];
    ids = ids.slice(0, maxTokens);
    if (ids.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', `text encoder: ${JSON.stringify(text)} has no tokens`);
    const vocab = this.options.config.vocabSize;
    const bad = ids.find((id) => !(Number.isInteger(id) && id >= 0 && id < vocab));
    if (bad !== undefined) throw new PeftCoreError('TOKENIZER_INVALID', `text encoder: token id ${bad} is outside the base vocabulary of ${vocab}`);
    return ids;
  }

  async features(texts: readonly string[]): Promise<Float32Array[]> {
    const batchSize = this.options.batchSize ?? 16;
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += batchSize) {
      const rows = texts.slice(start, start + batchSize).map((t) => this.tokenize(t));
      const seq = Math.max(...rows.map((r) => r.length));
      // Right padding with token 0: causal attention keeps it out of the real tokens' states.
      const tokens = rows.map((r) => [...r, ...new Array<number>(seq - r.length).fill(0)]);
      const mask = new Float32Array(rows.length * seq);
      rows.forEach((r, b) => mask.fill(1, b * seq, b * seq + r.length));
      const result = await this.graph.run({ ...stepFeeds({ tokens }), token_mask: tensorData('float32', [rows.length, seq], mask) }, ['pooled']);
      const pooled = result.pooled!.data as Float32Array;
      for (let b = 0; b < rows.length; b++) out.push(pooled.slice(b * this.featureDim, (b + 1) * this.featureDim));
    }
    return out;
  }

  dispose(): Promise<void> {
    return this.graph.dispose();
  }
}

/**
 * The id a base-model text encoder gets on the platform: the base's registry name and a prefix of
 * its weights digest, so a retriever trained on one build of a base refuses another build.
 * The train-retriever job, the registry's search route and eval:retrieval all use it.
 */
export function baseModelTextEncoderId(baseName: string, weightsSha256: string): string {
  return `${baseName}@${weightsSha256.slice(0, 16)}`;
}
