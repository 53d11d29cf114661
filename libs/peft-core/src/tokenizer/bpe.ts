/**
 * The BPE model: a vocabulary plus ranked merges. A word (one pre-tokenized piece) starts as
 * its characters; the adjacent pair with the lowest merge rank is merged everywhere, left to
 * right, until no pair has a rank. This is GPT-2's procedure, and gives the same result as
 * Hugging Face's priority-queue implementation.
 */
import { PeftCoreError } from '../errors';
import type { BpeModelJson } from './tokenizer-json';

const PAIR_SEPARATOR = '\u0000';
const CACHE_LIMIT = 100_000;

export class BpeModel {
  readonly vocab: ReadonlyMap<string, number>;
  private readonly ranks: Map<string, number>;
  private readonly unkId: number | undefined;
  private readonly byteFallback: boolean;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, number[]>();

  constructor(json: BpeModelJson) {
    this.vocab = new Map(Object.entries(json.vocab));
    this.ranks = new Map();
    json.merges.forEach((merge, rank) => {
      const [a, b] = typeof merge === 'string' ? splitMerge(merge) : merge;
      const key = a + PAIR_SEPARATOR + b;
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
    const unk = json.unk_token ?? undefined;
    this.unkId = unk === undefined ? undefined : this.vocab.get(unk);
    if (unk !== undefined && this.unkId === undefined) throw new PeftCoreError('TOKENIZER_INVALID', `unk_token ${JSON.stringify(unk)} is not in the vocabulary`);
    this.byteFallback = json.byte_fallback === true;
    this.ignoreMerges = json.ignore_merges === true;
  }

  /** Token ids for one pre-tokenized piece. */
  tokenize(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const ids = this.tokenizeUncached(word);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    return ids;
  }

  private tokenizeUncached(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    const symbols = [...word];
    for (;;) {
      let bestRank = Infinity;
      let bestPair = '';
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] + PAIR_SEPARATOR + symbols[i + 1];
        const rank = this.ranks.get(key);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          bestPair = key;
        }
      }
      if (bestRank === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] + PAIR_SEPARATOR + symbols[i + 1] === bestPair) {
          merged.push(symbols[i] + symbols[i + 1]);
          i++;
        } else {
          merged.push(symbols[i]);
        }
      }
      symbols.splice(0, symbols.length, ...merged);
    }
    const ids: number[] = [];
    for (const symbol of symbols) {
      const id = this.vocab.get(symbol);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      ids.push(...this.unknown(symbol));
    }
    return ids;
  }

  private unknown(symbol: string): number[] {
    if (this.byteFallback) {
      const ids = [...new TextEncoder().encode(symbol)].map((b) => this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`));
      if (ids.every((id): id is number => id !== undefined)) return ids;
    }
    if (this.unkId !== undefined) return [this.unkId];
    throw new PeftCoreError('TOKENIZER_INVALID', `symbol ${JSON.stringify(symbol)} is not in the vocabulary and the model has no unk_token`);
  }
}

/** "a b" -> ["a", "b"]; split at the space, as Hugging Face does (byte-level tokens never contain a raw space). */
function splitMerge(merge: string): [string, string] {
  const at = merge.indexOf(' ');
  return [merge.slice(0, at), merge.slice(at + 1)];
}
