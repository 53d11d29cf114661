import { PeftCoreError } from '../errors';
import type { ModelConfig } from '../formats/model-config';
import type { CompiledGraph } from '../graph/compile';
import type { TensorData } from '../graph/types';
import type { LoraWeights } from '../lora/adapter';
import { Rng } from '../util/rng';
import { leftPad, stepFeeds } from './decoder-inputs';
import { KvCache } from './kv-cache';
import type { LoraTargets } from './lora-inputs';
import { LoraPool } from './lora-pool';
import { checkSamplingOptions, sampleToken, type SamplingOptions } from './sampling';

/** One request joining the batch. */
export interface BatchRowRequest {
  readonly prompt: readonly number[];
  /** The row's adapter (undefined = base model). Rows with different adapters and ranks share a step. */
  readonly lora?: LoraWeights;
  readonly sampling?: SamplingOptions;
  /** The row samples from Rng(seed): the same tokens as LlamaModel.generate(prompt, { seed }). Default 0. */
  readonly seed?: number;
}

/** A token produced for a row by admit() or step(). */
export interface BatchToken {
  readonly id: number;
  readonly token: number;
  /** The row's next-token logits (a view, valid until the next call) when `keepLogits` is set. */
  readonly logits?: Float32Array;
}

/** What the decoder needs from its model: compiled decode graphs and the frozen weight feeds. */
export interface DecodeSessions {
  /** The decode graph without LoRA (targets undefined) or with the per-row ('rows') LoRA wiring over `targets`. */
  decodeSession(targets: LoraTargets | undefined): Promise<CompiledGraph>;
  baseFeeds(): Record<string, TensorData>;
}

export interface BatchDecoderOptions {
  /** Token used to left-pad joiners' prompts in their prefill (never attended to). Default 0. */
  readonly padTokenId?: number;
  /** Return each row's logits with its token (log-probs, tests). Default false. */
  readonly keepLogits?: boolean;
}

interface Row {
  readonly id: number;
  readonly lora: LoraWeights | undefined;
  readonly sampling: SamplingOptions;
  readonly rng: Rng;
  /** First cache slot this row attends to; slots before it are padding for this row. */
  start: number;
  /** RoPE position of the row's next input token. */
  position: number;
  lastToken: number;
}

/**
 * Step-level continuous batching over a model's decode graph (S-LoRA/Punica style): every running
 * row advances by one token per forward pass, whatever adapter it uses; rows with different
 * adapters and ranks are fed per row, laid out by LoraPool only when a row joins or leaves. New
 * rows join between steps: they are prefilled together (one pass,
 * left-padded) and their keys/values are merged into the running KV cache right-aligned, so every
 * row's next token sits in the same cache slot. Finished rows leave with release().
 *
 * Graphs are compiled once per LoRA target set and cached by the model; adapters are inputs, so
 * changing which adapters are in the batch never recompiles.
 */
export class BatchDecoder {
  private readonly pool: LoraPool;
  private rowList: Row[] = [];
  private cache: KvCache | undefined;
  private nextId = 0;
  private busy = false;

  constructor(
    private readonly config: ModelConfig,
    private readonly sessions: DecodeSessions,
    private readonly options: BatchDecoderOptions = {},
  ) {
    this.pool = new LoraPool(config);
  }

  /** Rows currently in the batch. */
  get size(): number {
    return this.rowList.length;
  }

  /** Distinct adapters among the running rows (the base model not counted). */
  get distinctAdapters(): number {
    return this.pool.size;
  }

  /** Cache slots every row's attention spans (longest context in the batch, padding included). */
  get contextLength(): number {
    return this.cache?.length ?? 0;
  }

  /** Ids of the rows in the batch, in batch order. */
  get rowIds(): number[] {
    return this.rowList.map((r) => r.id);
  }

  /**
   * Prefills `requests` in one pass and adds them to the batch. Returns each new row's id with
   * its first generated token (in request order). A row ends only when release() is called.
   */
  async admit(requests: readonly BatchRowRequest[]): Promise<BatchToken[]> {
    if (requests.length === 0) return [];
    for (const r of requests) this.checkRequest(r);
    return this.exclusive(async () => {
      const acquired: LoraWeights[] = [];
      try {
        for (const r of requests) {
          if (r.lora === undefined) continue;
          this.pool.acquire(r.lora);
          acquired.push(r.lora);
        }
        const padded = leftPad(requests.map((r) => r.prompt), this.options.padTokenId ?? 0);
        const width = padded.tokens[0]!.length;
        const anyLora = requests.some((r) => r.lora !== undefined);
        const session = await this.sessions.decodeSession(anyLora ? this.pool.targets : undefined);
        const out = await session.run({
          ...this.sessions.baseFeeds(),
          ...(anyLora ? this.pool.batchFeeds(requests.map((r) => r.lora)) : {}),
          ...this.emptyPastFeeds(requests.length),
          ...stepFeeds({ tokens: padded.tokens, positions: padded.positions, pastLength: 0, keyPadding: padded.keyPadding, withKeySlots: true }),
        });
        const { keys, values } = this.newKv(out);
        let newRowsStart = 0;
        if (this.cache === undefined) {
          this.cache = new KvCache(this.config.numLayers, requests.length, this.config.numKvHeads, this.config.headDim, width + 16);
          this.cache.append(keys, values, width);
        } else {
          const placed = this.cache.addRows(keys, values, width, requests.length);
          for (const row of this.rowList) row.start += placed.existingShift;
          newRowsStart = placed.newRowsStart;
        }
        const logits = out.logits!.data as Float32Array;
        const V = this.config.vocabSize;
        return requests.map((r, i) => {
          const rowLogits = logits.subarray(i * V, (i + 1) * V);
          const rng = new Rng(r.seed ?? 0);
          const sampling = r.sampling ?? {};
          const token = sampleToken(rowLogits, sampling, rng);
          const row: Row = {
            id: this.nextId++,
            lora: r.lora,
            sampling,
            rng,
            start: newRowsStart + (width - r.prompt.length),
            position: r.prompt.length,
            lastToken: token,
          };
          this.rowList.push(row);
          return { id: row.id, token, ...(this.options.keepLogits ? { logits: rowLogits } : {}) };
        });
      } catch (error) {
        for (const adapter of acquired) this.pool.release(adapter);
        throw error;
      }
    });
  }

  /** One forward pass for every row: feeds each row's last token, returns each row's next token. */
  async step(): Promise<BatchToken[]> {
    return this.exclusive(async () => {
      const cache = this.cache;
      if (cache === undefined || this.rowList.length === 0) return [];
      const past = cache.length;
      const anyLora = this.pool.size > 0;
      const session = await this.sessions.decodeSession(this.pool.targets);
      const out = await session.run({
        ...this.sessions.baseFeeds(),
        ...(anyLora ? this.pool.batchFeeds(this.rowList.map((r) => r.lora)) : {}),
        ...cache.feeds(),
        ...stepFeeds({
          tokens: this.rowList.map((r) => [r.lastToken]),
          positions: this.rowList.map((r) => [r.position]),
          pastLength: past,
          keyPadding: this.rowList.map((r) => Array.from({ length: past + 1 }, (_, s) => (s >= r.start ? 1 : 0))),
          withKeySlots: true,
        }),
      });
      const { keys, values } = this.newKv(out);
      cache.append(keys, values, 1);
      const logits = out.logits!.data as Float32Array;
      const V = this.config.vocabSize;
      return this.rowList.map((row, i) => {
        const rowLogits = logits.subarray(i * V, (i + 1) * V);
        const token = sampleToken(rowLogits, row.sampling, row.rng);
        row.position += 1;
        row.lastToken = token;
        return { id: row.id, token, ...(this.options.keepLogits ? { logits: rowLogits } : {}) };
      });
    });
  }

  /** Removes rows from the batch (finished, stopped or cancelled); unknown ids are ignored. */
  release(ids: Iterable<number>): void {
    if (this.busy) throw new PeftCoreError('INVALID_ARGUMENT', 'BatchDecoder.release: called while a step is running; release between steps');
    const leaving = new Set(ids);
    const keep: number[] = [];
    this.rowList.forEach((row, i) => {
      if (leaving.has(row.id)) {
        if (row.lora !== undefined) this.pool.release(row.lora);
      } else {
        keep.push(i);
      }
    });
    if (keep.length === this.rowList.length) return;
    this.rowList = keep.map((i) => this.rowList[i]!);
    if (this.rowList.length === 0) {
      this.cache = undefined;
      return;
    }
    this.cache!.keepRows(keep);
    // Slots that are padding for every remaining row are never attended again: drop them.
    const unused = Math.min(...this.rowList.map((r) => r.start));
    if (unused > 0) {
      this.cache!.dropLeadingSlots(unused);
      for (const row of this.rowList) row.start -= unused;
    }
  }

  private checkRequest(r: BatchRowRequest): void {
    const V = this.config.vocabSize;
    if (r.prompt.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'BatchDecoder.admit: a prompt needs at least one token');
    for (const id of r.prompt) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new PeftCoreError('INVALID_ARGUMENT', `token id ${id} is outside the vocabulary [0, ${V})`);
    }
    if (r.sampling !== undefined) checkSamplingOptions(r.sampling);
  }

  private emptyPastFeeds(batch: number): Record<string, TensorData> {
    const empty = new KvCache(this.config.numLayers, batch, this.config.numKvHeads, this.config.headDim, 1);
    return empty.feeds();
  }

  private newKv(out: Record<string, TensorData>): { keys: Float32Array[]; values: Float32Array[] } {
    const layers = Array.from({ length: this.config.numLayers }, (_, l) => l);
    return {
      keys: layers.map((l) => out[`new.${l}.key`]!.data as Float32Array),
      values: layers.map((l) => out[`new.${l}.value`]!.data as Float32Array),
    };
  }

  /** Steps and admissions mutate the cache and pool: one at a time. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw new PeftCoreError('INVALID_ARGUMENT', 'BatchDecoder: admit() and step() must not overlap; await the previous call');
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }
}
