/**
 * An optional text encoder: any ONNX sentence encoder exported from Hugging Face (BERT family,
 * e.g. all-MiniLM-L6-v2; see README.md for the export command) with its WordPiece
 * tokenizer.json, loaded from a directory. Features are the attention-masked mean of the
 * token states (sentence-transformers' mean pooling); a model that already outputs a pooled
 * [batch, dim] tensor is used as is. The retriever's trained projection maps them to 256-d, so
 * the encoder's own width does not matter.
 *
 * The session comes from @palette/gpu-kernels (the one module that talks to onnxruntime).
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { createSession, type KernelSession, type SessionOptions } from '@palette/gpu-kernels';
import { PeftCoreError } from '../errors';
import { tensorData } from '../graph/tensor-data';
import type { TensorData } from '../graph/types';
import type { TextFeatureEncoder } from './text-encoder';
import { WordPieceTokenizer } from './wordpiece';

/** Token-state outputs, in order of preference; a rank-2 output is taken as already pooled. */
const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];
const POOLED_OUTPUTS = ['sentence_embedding', 'pooler_output'];
const KNOWN_INPUTS = new Set(['input_ids', 'attention_mask', 'token_type_ids']);

export interface OnnxSentenceEncoderOptions extends SessionOptions {
  /** Tokens per text, specials included. Default 128. */
  readonly maxTokens?: number;
  readonly batchSize?: number;
}

export class OnnxSentenceEncoder implements TextFeatureEncoder {
  readonly kind = 'onnx';

  private constructor(
    readonly id: string,
    readonly featureDim: number,
    private readonly session: KernelSession,
    private readonly tokenizer: WordPieceTokenizer,
    private readonly output: { name: string; pooled: boolean },
    private readonly options: OnnxSentenceEncoderOptions,
  ) {}

  /**
   * Loads `dir/model.onnx` and `dir/tokenizer.json`. The id is 'onnx:<sha256 of model.onnx, 12 hex>',
   * so a retriever trained on one export refuses another. The feature size is read by encoding
   * one probe text (ONNX exports leave the hidden size symbolic in some versions).
   */
  static async fromDirectory(dir: string, options: OnnxSentenceEncoderOptions = {}): Promise<OnnxSentenceEncoder> {
    const modelBytes = new Uint8Array(await readFile(path.join(dir, 'model.onnx')));
    const tokenizer = WordPieceTokenizer.fromJson(JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')) as unknown);
    const { maxTokens: _maxTokens, batchSize: _batchSize, ...sessionOptions } = options;
    const session = await createSession(modelBytes, sessionOptions);
    const unknown = session.inputNames.filter((n) => !KNOWN_INPUTS.has(n));
    if (unknown.length > 0 || !session.inputNames.includes('input_ids')) {
      await session.dispose();
      throw new PeftCoreError('UNSUPPORTED', `ONNX sentence encoder ${dir}: inputs [${session.inputNames.join(', ')}]; expected input_ids with optional attention_mask and token_type_ids`);
    }
    const tokenOut = TOKEN_OUTPUTS.find((n) => session.outputNames.includes(n));
    const pooledOut = POOLED_OUTPUTS.find((n) => session.outputNames.includes(n));
    const name = tokenOut ?? pooledOut ?? session.outputNames[0];
    if (name === undefined) {
      await session.dispose();
      throw new PeftCoreError('UNSUPPORTED', `ONNX sentence encoder ${dir}: the model has no outputs`);
    }
    const id = `onnx:${createHash('sha256').update(modelBytes).digest('hex').slice(0, 12)}`;
    const probe = new OnnxSentenceEncoder(id, 0, session, tokenizer, { name, pooled: tokenOut === undefined }, options);
    const [first] = await probe.features(['probe']);
    return new OnnxSentenceEncoder(id, first!.length, session, tokenizer, { name, pooled: tokenOut === undefined }, options);
  }

  async features(texts: readonly string[]): Promise<Float32Array[]> {
    const batchSize = this.options.batchSize ?? 16;
    const maxTokens = this.options.maxTokens ?? 128;
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += batchSize) {
      const rows = texts.slice(start, start + batchSize).map((t) => this.tokenizer.encode(t, maxTokens));
      const batch = rows.length;
      const seq = Math.max(...rows.map((r) => r.length));
      const ids = new BigInt64Array(batch * seq);
      const mask = new BigInt64Array(batch * seq);
      rows.forEach((r, b) => r.forEach((id, t) => ((ids[b * seq + t] = BigInt(id)), (mask[b * seq + t] = 1n))));
      const all: Record<string, TensorData> = {
        input_ids: tensorData('int64', [batch, seq], ids),
        attention_mask: tensorData('int64', [batch, seq], mask),
        token_type_ids: tensorData('int64', [batch, seq], new BigInt64Array(batch * seq)),
      };
      const feeds = Object.fromEntries(this.session.inputNames.map((n) => [n, all[n]!]));
      const result = (await this.session.run(feeds, [this.output.name]))[this.output.name]!;
      const data = result.data as Float32Array;
      if (result.dtype !== 'float32') throw new PeftCoreError('UNSUPPORTED', `ONNX sentence encoder: output ${this.output.name} is ${result.dtype}, expected float32`);
      if (this.output.pooled || result.shape.length === 2) {
        const dim = result.shape[1]!;
        for (let b = 0; b < batch; b++) out.push(data.slice(b * dim, (b + 1) * dim));
        continue;
      }
      const dim = result.shape[2]!;
      rows.forEach((r, b) => {
        const pooled = new Float32Array(dim);
        for (let t = 0; t < r.length; t++) for (let d = 0; d < dim; d++) pooled[d]! += data[(b * seq + t) * dim + d]!;
        for (let d = 0; d < dim; d++) pooled[d]! /= r.length;
        out.push(pooled);
      });
    }
    return out;
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
