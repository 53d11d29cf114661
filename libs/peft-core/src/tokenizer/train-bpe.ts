/**
 * A small byte-level BPE trainer for the project's own base models and tests. It produces a
 * tokenizer.json object in the same layout as Llama 3's (regex Split + ByteLevel), which
 * Tokenizer.fromJson loads like any other.
 *
 * Vocabulary layout: special tokens first (ids 0..S-1), then the 256 byte symbols in byte
 * order, then one token per merge. Training counts pre-tokenized words once, then repeatedly
 * merges the most frequent adjacent pair (ties broken by the pair's text, so training is
 * deterministic), updating pair counts only in the words that contain the merged pair.
 */
import { PeftCoreError } from '../errors';
import { BYTE_TO_CHAR } from './byte-level';
import { buildPreTokenizer } from './pipeline';
import type { AddedTokenJson, PreTokenizerJson, TokenizerJson } from './tokenizer-json';

/** Llama 3's pre-tokenizer pattern (digits in runs of at most three). */
export const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

export const DEFAULT_SPECIAL_TOKENS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'] as const;

export interface TrainBpeOptions {
  /** Added as special tokens with the first ids. Default: <|endoftext|>, <|im_start|>, <|im_end|> (ChatML). */
  readonly specialTokens?: readonly string[];
  /** Pairs seen fewer times than this are never merged (default 2). */
  readonly minFrequency?: number;
  /** The Split regex (default LLAMA3_PATTERN). */
  readonly pattern?: string;
}

const SEP = '\u0000';

interface Word {
  symbols: string[];
  readonly count: number;
}

export function trainByteLevelBpe(corpus: string | readonly string[], vocabSize: number, options: TrainBpeOptions = {}): TokenizerJson {
  const specials = [...(options.specialTokens ?? DEFAULT_SPECIAL_TOKENS)];
  const minFrequency = options.minFrequency ?? 2;
  if (!Number.isInteger(vocabSize) || vocabSize < specials.length + 256) {
    throw new PeftCoreError('TOKENIZER_INVALID', `vocabSize ${vocabSize} is below the ${specials.length} special tokens + 256 bytes`);
  }
  const preTokenizerJson: PreTokenizerJson = {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: options.pattern ?? LLAMA3_PATTERN }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
    ],
  };
  const preTokenize = buildPreTokenizer(preTokenizerJson);

  const vocab: Record<string, number> = {};
  const addedTokens: AddedTokenJson[] = specials.map((content, id) => {
    vocab[content] = id;
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  let nextId = specials.length;
  for (const ch of BYTE_TO_CHAR) {
    if (!(ch in vocab)) vocab[ch] = nextId++;
  }

  // Count words; special tokens in the corpus are not trained on.
  const counts = new Map<string, number>();
  const specialRe = specials.length > 0 ? new RegExp(specials.map((s) => s.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')).join('|'), 'gu') : null;
  for (const text of typeof corpus === 'string' ? [corpus] : corpus) {
    const chunks = specialRe ? text.split(specialRe) : [text];
    for (const word of preTokenize(chunks.filter((c) => c !== ''))) counts.set(word, (counts.get(word) ?? 0) + 1);
  }
  const words: Word[] = [...counts].map(([w, count]) => ({ symbols: [...w], count }));

  const pairCounts = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (index: number, sign: 1 | -1): void => {
    const { symbols, count } = words[index];
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = symbols[i] + SEP + symbols[i + 1];
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * count);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(index);
      }
    }
  };
  words.forEach((_, i) => addPairs(i, 1));

  const merges: Array<[string, string]> = [];
  while (nextId < vocabSize) {
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    if (best === undefined || bestCount < minFrequency) break;
    const [a, b] = best.split(SEP) as [string, string];
    merges.push([a, b]);
    const merged = a + b;
    if (!(merged in vocab)) vocab[merged] = nextId++;
    for (const index of pairWords.get(best) ?? []) {
      addPairs(index, -1);
      const symbols = words[index].symbols;
      const out: string[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(symbols[i]);
      }
      words[index].symbols = out;
      addPairs(index, 1);
    }
    pairCounts.delete(best);
    pairWords.delete(best);
    for (const [key, count] of pairCounts) if (count <= 0) pairCounts.delete(key);
  }

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: preTokenizerJson,
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}
