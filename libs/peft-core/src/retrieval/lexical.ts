/**
 * The lexical text channel of a retriever: hashed word and character n-grams with TF-IDF weights
 * fitted on the training captions, concatenated with the frozen encoder's pooled features before
 * the trained projection.
 *
 * Why it exists: the default frozen encoder is the platform's own base model. On the evaluation
 * world that base is tiny, tokenises every letter separately and was pretrained on made-up words,
 * so its pooled states carry almost no meaning for English (recall@1 at chance). Word unigrams and
 * bigrams carry the words a query shares with an adapter's description; character 3–5-grams of
 * each word (with boundary marks) carry shared stems ("vowel" / "vowels", "capital" /
 * "capitalising"). Nothing is downloaded: the vocabulary is a hash, the weights come from the
 * captions the retriever is trained on.
 *
 * Everything that decides the features (the config and the IDF vector) is part of the retriever
 * artifact, so its space id changes with them, and the registry, the worker and the router all
 * compute the features with this one file.
 */
import { PeftCoreError } from '../errors';

export interface LexicalConfig {
  /** Hash buckets (the channel's width). */
  readonly buckets: number;
  /** Word n-grams 1..maxWordNgram. */
  readonly maxWordNgram: number;
  /** Character n-grams minCharNgram..maxCharNgram of each `<word>` (0 disables them). */
  readonly minCharNgram: number;
  readonly maxCharNgram: number;
}

export const DEFAULT_LEXICAL_CONFIG: LexicalConfig = { buckets: 4096, maxWordNgram: 2, minCharNgram: 3, maxCharNgram: 5 };

export const LEXICAL_IDF_PARAM = 'text.lexical.idf';

export function validateLexicalConfig(c: LexicalConfig): void {
  const int = (v: unknown): boolean => Number.isInteger(v);
  if (!(int(c.buckets) && c.buckets >= 16 && c.buckets <= 1 << 20)) throw new PeftCoreError('INVALID_ARGUMENT', `lexical.buckets must be an integer from 16 to ${1 << 20}, got ${c.buckets}`);
  if (!(int(c.maxWordNgram) && c.maxWordNgram >= 1 && c.maxWordNgram <= 3)) throw new PeftCoreError('INVALID_ARGUMENT', `lexical.maxWordNgram must be 1, 2 or 3, got ${c.maxWordNgram}`);
  const charOff = c.minCharNgram === 0 && c.maxCharNgram === 0;
  if (!charOff && !(int(c.minCharNgram) && int(c.maxCharNgram) && c.minCharNgram >= 2 && c.maxCharNgram >= c.minCharNgram && c.maxCharNgram <= 8)) {
    throw new PeftCoreError('INVALID_ARGUMENT', `lexical char n-grams must satisfy 2 ≤ min ≤ max ≤ 8 (or both 0), got ${c.minCharNgram}..${c.maxCharNgram}`);
  }
}

/**
 * Lowercased words: runs of letters and digits, and every other non-space character as a word of
 * its own. Symbols are kept because prompts are often keyed by them (the evaluation world marks
 * each task with one: `Q: % abc`), and a usage example in a card then shares that symbol.
 */
export function lexicalWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+|[^\s\p{L}\p{N}]/gu) ?? [];
}

/** Every term of a text: `w:` word n-grams and `c:` character n-grams of `<word>`. */
export function lexicalTerms(text: string, config: LexicalConfig): string[] {
  const words = lexicalWords(text);
  const terms: string[] = [];
  for (let n = 1; n <= config.maxWordNgram; n++) {
    for (let i = 0; i + n <= words.length; i++) terms.push(`w:${words.slice(i, i + n).join(' ')}`);
  }
  if (config.maxCharNgram > 0) {
    for (const w of words) {
      if (w.length === 1 && !/[\p{L}\p{N}]/u.test(w)) continue; // a symbol is a word n-gram already
      const padded = `<${w}>`;
      for (let n = config.minCharNgram; n <= config.maxCharNgram; n++) {
        for (let i = 0; i + n <= padded.length; i++) terms.push(`c:${padded.slice(i, i + n)}`);
      }
    }
  }
  return terms;
}

/** FNV-1a (32 bit) of the term's UTF-16 code units, modulo buckets. */
export function lexicalBucket(term: string, buckets: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < term.length; i++) {
    h ^= term.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % buckets;
}

function counts(text: string, config: LexicalConfig): Map<number, number> {
  const out = new Map<number, number>();
  for (const t of lexicalTerms(text, config)) {
    const b = lexicalBucket(t, config.buckets);
    out.set(b, (out.get(b) ?? 0) + 1);
  }
  return out;
}

/**
 * Smoothed IDF over `documents` (the training captions): ln((1 + N) / (1 + df)) + 1, so a bucket no
 * caption uses gets the largest weight (an unseen word still counts when two queries share it)
 * and one every caption uses the smallest.
 */
export function fitLexicalIdf(documents: readonly string[], config: LexicalConfig): Float32Array {
  validateLexicalConfig(config);
  const df = new Float64Array(config.buckets);
  for (const d of documents) for (const b of counts(d, config).keys()) df[b]! += 1;
  const n = documents.length;
  return Float32Array.from(df, (v) => Math.log((1 + n) / (1 + v)) + 1);
}

/** The channel's features: sublinear TF (1 + ln tf) × IDF, L2-normalised (all zeros for a text without words). */
export function lexicalFeatures(text: string, config: LexicalConfig, idf: Float32Array): Float32Array {
  if (idf.length !== config.buckets) throw new PeftCoreError('SHAPE_MISMATCH', `lexical idf has ${idf.length} values for ${config.buckets} buckets`);
  const out = new Float32Array(config.buckets);
  let norm = 0;
  for (const [b, tf] of counts(text, config)) {
    const v = (1 + Math.log(tf)) * idf[b]!;
    out[b] = v;
    norm += v * v;
  }
  if (norm > 0) {
    const s = 1 / Math.sqrt(norm);
    for (let i = 0; i < out.length; i++) out[i]! *= s;
  }
  return out;
}

/**
 * The features a retriever projects: the frozen encoder's as they are without a lexical channel;
 * with one, the encoder's L2-normalised (so neither channel dominates by scale) followed by the
 * lexical channel's.
 */
export function combineTextFeatures(encoderFeatures: Float32Array, text: string, lexical: { readonly config: LexicalConfig; readonly idf: Float32Array } | undefined): Float32Array {
  if (!lexical) return encoderFeatures;
  const out = new Float32Array(encoderFeatures.length + lexical.config.buckets);
  let norm = 0;
  for (const v of encoderFeatures) norm += v * v;
  const s = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < encoderFeatures.length; i++) out[i] = encoderFeatures[i]! * s;
  out.set(lexicalFeatures(text, lexical.config, lexical.idf), encoderFeatures.length);
  return out;
}
