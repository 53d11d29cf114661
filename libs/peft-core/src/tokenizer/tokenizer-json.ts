/**
 * The subset of Hugging Face tokenizer.json that byte-level BPE tokenizers (GPT-2, Llama 3,
 * Qwen2/3, SmolLM) use, as types plus a structural check that names the offending path.
 * Components outside this subset are rejected with UNSUPPORTED rather than ignored.
 */
import { PeftCoreError } from '../errors';

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

export type NormalizerJson =
  | { type: 'NFC' | 'NFD' | 'NFKC' | 'NFKD' | 'Lowercase' }
  | { type: 'Sequence'; normalizers: NormalizerJson[] };

export type SplitPatternJson = { Regex: string } | { String: string };
export type SplitBehavior = 'Isolated' | 'Removed' | 'MergedWithPrevious' | 'MergedWithNext';

export type PreTokenizerJson =
  | { type: 'Sequence'; pretokenizers: PreTokenizerJson[] }
  | { type: 'Split'; pattern: SplitPatternJson; behavior: SplitBehavior; invert?: boolean }
  | { type: 'ByteLevel'; add_prefix_space?: boolean; trim_offsets?: boolean; use_regex?: boolean }
  | { type: 'Digits'; individual_digits?: boolean };

export type TemplatePieceJson = { SpecialToken: { id: string; type_id?: number } } | { Sequence: { id: 'A' | 'B'; type_id?: number } };

export type PostProcessorJson =
  | { type: 'ByteLevel'; add_prefix_space?: boolean; trim_offsets?: boolean; use_regex?: boolean }
  | {
      type: 'TemplateProcessing';
      single: TemplatePieceJson[];
      pair?: TemplatePieceJson[];
      special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
    }
  | { type: 'Sequence'; processors: PostProcessorJson[] };

export type DecoderJson = { type: 'ByteLevel'; add_prefix_space?: boolean; trim_offsets?: boolean; use_regex?: boolean } | { type: 'Sequence'; decoders: DecoderJson[] };

export interface BpeModelJson {
  type: 'BPE';
  vocab: Record<string, number>;
  merges: Array<string | [string, string]>;
  unk_token?: string | null;
  continuing_subword_prefix?: string | null;
  end_of_word_suffix?: string | null;
  fuse_unk?: boolean;
  byte_fallback?: boolean;
  ignore_merges?: boolean;
  dropout?: number | null;
}

export interface TokenizerJson {
  version?: string;
  truncation?: unknown;
  padding?: unknown;
  added_tokens: AddedTokenJson[];
  normalizer: NormalizerJson | null;
  pre_tokenizer: PreTokenizerJson | null;
  post_processor: PostProcessorJson | null;
  decoder: DecoderJson | null;
  model: BpeModelJson;
}

function invalid(where: string, message: string): PeftCoreError {
  return new PeftCoreError('TOKENIZER_INVALID', `tokenizer.json ${where}: ${message}`);
}

function unsupported(where: string, type: unknown): PeftCoreError {
  return new PeftCoreError('UNSUPPORTED', `tokenizer.json ${where}: type ${JSON.stringify(type)} is not supported`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkNormalizer(value: unknown, where: string): void {
  if (value === null) return;
  if (!isRecord(value)) throw invalid(where, 'must be an object or null');
  if (value.type === 'Sequence') {
    if (!Array.isArray(value.normalizers)) throw invalid(where, 'Sequence needs "normalizers"');
    value.normalizers.forEach((n, i) => checkNormalizer(n, `${where}.normalizers[${i}]`));
    return;
  }
  if (!['NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase'].includes(value.type as string)) throw unsupported(where, value.type);
}

function checkPreTokenizer(value: unknown, where: string): void {
  if (value === null) return;
  if (!isRecord(value)) throw invalid(where, 'must be an object or null');
  switch (value.type) {
    case 'Sequence':
      if (!Array.isArray(value.pretokenizers)) throw invalid(where, 'Sequence needs "pretokenizers"');
      value.pretokenizers.forEach((p, i) => checkPreTokenizer(p, `${where}.pretokenizers[${i}]`));
      return;
    case 'Split': {
      const pattern = value.pattern;
      if (!isRecord(pattern) || (typeof pattern.Regex !== 'string' && typeof pattern.String !== 'string')) {
        throw invalid(where, 'Split needs pattern {Regex} or {String}');
      }
      if (!['Isolated', 'Removed', 'MergedWithPrevious', 'MergedWithNext'].includes(value.behavior as string)) {
        throw new PeftCoreError('UNSUPPORTED', `tokenizer.json ${where}: Split behavior ${JSON.stringify(value.behavior)} is not supported`);
      }
      return;
    }
    case 'ByteLevel':
    case 'Digits':
      return;
    default:
      throw unsupported(where, value.type);
  }
}

function checkPostProcessor(value: unknown, where: string): void {
  if (value === null) return;
  if (!isRecord(value)) throw invalid(where, 'must be an object or null');
  switch (value.type) {
    case 'ByteLevel':
      return;
    case 'Sequence':
      if (!Array.isArray(value.processors)) throw invalid(where, 'Sequence needs "processors"');
      value.processors.forEach((p, i) => checkPostProcessor(p, `${where}.processors[${i}]`));
      return;
    case 'TemplateProcessing':
      if (!Array.isArray(value.single) || !isRecord(value.special_tokens)) throw invalid(where, 'TemplateProcessing needs "single" and "special_tokens"');
      for (const piece of value.single as unknown[]) {
        if (!isRecord(piece)) throw invalid(where, 'template pieces must be objects');
        const special = piece.SpecialToken;
        if (isRecord(special)) {
          const entry = (value.special_tokens as Record<string, unknown>)[special.id as string];
          if (!isRecord(entry) || !Array.isArray(entry.ids)) throw invalid(where, `special token ${JSON.stringify(special.id)} is not in special_tokens`);
        } else if (!isRecord(piece.Sequence)) {
          throw invalid(where, 'template pieces are SpecialToken or Sequence');
        }
      }
      return;
    default:
      throw unsupported(where, value.type);
  }
}

function checkDecoder(value: unknown, where: string): void {
  if (value === null) return;
  if (!isRecord(value)) throw invalid(where, 'must be an object or null');
  if (value.type === 'Sequence') {
    if (!Array.isArray(value.decoders)) throw invalid(where, 'Sequence needs "decoders"');
    value.decoders.forEach((d, i) => checkDecoder(d, `${where}.decoders[${i}]`));
    return;
  }
  if (value.type !== 'ByteLevel') throw unsupported(where, value.type);
}

function checkModel(value: unknown): void {
  if (!isRecord(value)) throw invalid('model', 'must be an object');
  if (value.type !== undefined && value.type !== 'BPE') throw unsupported('model', value.type);
  if (!isRecord(value.vocab)) throw invalid('model.vocab', 'must be an object of token -> id');
  for (const [token, id] of Object.entries(value.vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw invalid('model.vocab', `id of ${JSON.stringify(token)} is ${JSON.stringify(id)}`);
  }
  if (!Array.isArray(value.merges)) throw invalid('model.merges', 'must be a list');
  value.merges.forEach((m: unknown, i) => {
    const ok = typeof m === 'string' ? m.includes(' ') : Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string';
    if (!ok) throw invalid(`model.merges[${i}]`, `must be "a b" or ["a", "b"], got ${JSON.stringify(m)}`);
  });
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    const v = value[key];
    if (v !== undefined && v !== null && v !== '') throw new PeftCoreError('UNSUPPORTED', `tokenizer.json model.${key} ${JSON.stringify(v)} is not supported`);
  }
  if (value.dropout !== undefined && value.dropout !== null && value.dropout !== 0) {
    throw new PeftCoreError('UNSUPPORTED', 'tokenizer.json model.dropout (BPE dropout) is not supported');
  }
}

/** Checks that `json` is a tokenizer.json this package can run, and types it. */
export function parseTokenizerJson(json: unknown): TokenizerJson {
  if (!isRecord(json)) throw invalid('(root)', 'must be a JSON object');
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw invalid('added_tokens', 'must be a list');
  added.forEach((t: unknown, i) => {
    if (!isRecord(t) || typeof t.content !== 'string' || t.content === '' || typeof t.id !== 'number' || !Number.isInteger(t.id) || t.id < 0) {
      throw invalid(`added_tokens[${i}]`, 'needs a non-empty "content" and an integer "id"');
    }
  });
  checkNormalizer(json.normalizer ?? null, 'normalizer');
  checkPreTokenizer(json.pre_tokenizer ?? null, 'pre_tokenizer');
  checkPostProcessor(json.post_processor ?? null, 'post_processor');
  checkDecoder(json.decoder ?? null, 'decoder');
  checkModel(json.model);
  return {
    ...(json as unknown as TokenizerJson),
    added_tokens: added as AddedTokenJson[],
    normalizer: (json.normalizer ?? null) as NormalizerJson | null,
    pre_tokenizer: (json.pre_tokenizer ?? null) as PreTokenizerJson | null,
    post_processor: (json.post_processor ?? null) as PostProcessorJson | null,
    decoder: (json.decoder ?? null) as DecoderJson | null,
  };
}
