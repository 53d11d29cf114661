/**
 * A WordPiece tokenizer read from a Hugging Face tokenizer.json (BERT family: all-MiniLM-L6-v2,
 * bge, e5 ...), for the optional ONNX sentence encoder. The peft-core Tokenizer covers BPE
 * models only; sentence encoders are mostly WordPiece, so this one module reads the parts such a
 * tokenizer.json uses and refuses anything else by name:
 *   normalizer     BertNormalizer (clean_text, handle_chinese_chars, strip_accents, lowercase) or null
 *   pre_tokenizer  BertPreTokenizer / Whitespace(Split) (whitespace, then every punctuation char alone) or null
 *   model          WordPiece (vocab, unk_token, continuing_subword_prefix, max_input_chars_per_word)
 *   post_processor BertProcessing (cls, sep) or TemplateProcessing (its `single` template) or null
 */
import { PeftCoreError } from '../errors';

interface WordPieceJson {
  readonly normalizer?: { type: string; clean_text?: boolean; handle_chinese_chars?: boolean; strip_accents?: boolean | null; lowercase?: boolean } | null;
  readonly pre_tokenizer?: { type: string } | null;
  readonly model: { type: string; vocab: Record<string, number>; unk_token?: string; continuing_subword_prefix?: string; max_input_chars_per_word?: number };
  readonly post_processor?: {
    type: string;
    cls?: [string, number];
    sep?: [string, number];
    single?: Array<{ SpecialToken?: { id: string }; Sequence?: { id: string } }>;
    special_tokens?: Record<string, { ids: number[] }>;
  } | null;
}

function unsupported(part: string, value: unknown): PeftCoreError {
  return new PeftCoreError('TOKENIZER_INVALID', `WordPiece tokenizer.json: ${part} ${JSON.stringify(value)} is not supported`);
}

/** BERT's notion of punctuation: Unicode P*, plus the ASCII symbols between letters and digits. */
function isPunctuation(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  return /\p{P}/u.test(ch);
}

function isCjk(c: number): boolean {
  return (
    (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) || (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
    (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b820 && c <= 0x2ceaf) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f)
  );
}

export class WordPieceTokenizer {
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly unkId: number;
  private readonly prefix: string;
  private readonly maxWordChars: number;
  private readonly prefixIds: readonly number[];
  private readonly suffixIds: readonly number[];

  private constructor(private readonly json: WordPieceJson) {
    const { model } = json;
    this.vocab = new Map(Object.entries(model.vocab));
    const unk = model.unk_token ?? '[UNK]';
    const unkId = this.vocab.get(unk);
    if (unkId === undefined) throw new PeftCoreError('TOKENIZER_INVALID', `WordPiece tokenizer.json: unk_token ${JSON.stringify(unk)} is not in the vocabulary`);
    this.unkId = unkId;
    this.prefix = model.continuing_subword_prefix ?? '##';
    this.maxWordChars = model.max_input_chars_per_word ?? 100;
    [this.prefixIds, this.suffixIds] = this.template();
  }

  /** Parses and checks a tokenizer.json object with a WordPiece model. */
  static fromJson(value: unknown): WordPieceTokenizer {
    const json = value as WordPieceJson;
    if (typeof json !== 'object' || json === null || typeof json.model !== 'object' || json.model === null) {
      throw new PeftCoreError('TOKENIZER_INVALID', 'WordPiece tokenizer.json: no "model" object');
    }
    if (json.model.type !== 'WordPiece') throw unsupported('model type', json.model.type);
    if (typeof json.model.vocab !== 'object' || json.model.vocab === null) throw new PeftCoreError('TOKENIZER_INVALID', 'WordPiece tokenizer.json: model.vocab is missing');
    if (json.normalizer && json.normalizer.type !== 'BertNormalizer') throw unsupported('normalizer', json.normalizer.type);
    if (json.pre_tokenizer && !['BertPreTokenizer', 'Whitespace', 'WhitespaceSplit'].includes(json.pre_tokenizer.type)) throw unsupported('pre_tokenizer', json.pre_tokenizer.type);
    if (json.post_processor && !['BertProcessing', 'TemplateProcessing'].includes(json.post_processor.type)) throw unsupported('post_processor', json.post_processor.type);
    return new WordPieceTokenizer(json);
  }

  /** Ids the post-processor puts before and after a single sequence ([CLS] … [SEP]). */
  private template(): [number[], number[]] {
    const post = this.json.post_processor;
    if (!post) return [[], []];
    if (post.type === 'BertProcessing') {
      if (!post.cls || !post.sep) throw unsupported('BertProcessing without cls/sep', post);
      return [[post.cls[1]], [post.sep[1]]];
    }
    const before: number[] = [];
    const after: number[] = [];
    let seenSequence = false;
    for (const item of post.single ?? []) {
      if (item.Sequence) {
        seenSequence = true;
        continue;
      }
      const id = item.SpecialToken?.id;
      const ids = id !== undefined ? post.special_tokens?.[id]?.ids : undefined;
      if (!ids) throw unsupported('TemplateProcessing item', item);
      (seenSequence ? after : before).push(...ids);
    }
    return [before, after];
  }

  private normalize(text: string): string {
    const n = this.json.normalizer;
    if (!n) return text;
    let out = '';
    for (const ch of text) {
      const c = ch.codePointAt(0)!;
      if (n.clean_text !== false) {
        if (c === 0 || c === 0xfffd || (/\p{Cc}|\p{Cf}/u.test(ch) && !/\s/.test(ch))) continue;
        if (/\s/.test(ch)) {
          out += ' ';
          continue;
        }
      }
      out += n.handle_chinese_chars !== false && isCjk(c) ? ` ${ch} ` : ch;
    }
    const lowercase = n.lowercase !== false;
    if (lowercase) out = out.toLowerCase();
    // HF strips accents when strip_accents is true, or when it is unset and lowercase is on.
    if (n.strip_accents === true || ((n.strip_accents === null || n.strip_accents === undefined) && lowercase)) out = out.normalize('NFD').replace(/\p{Mn}/gu, '');
    return out;
  }

  private preTokenize(text: string): string[] {
    const words: string[] = [];
    for (const chunk of text.split(/\s+/)) {
      let current = '';
      for (const ch of chunk) {
        if (isPunctuation(ch)) {
          if (current) words.push(current);
          words.push(ch);
          current = '';
        } else current += ch;
      }
      if (current) words.push(current);
    }
    return words;
  }

  /** Greedy longest-match-first; a word with no full segmentation becomes one unk. */
  private wordPiece(word: string): number[] {
    const chars = [...word];
    if (chars.length > this.maxWordChars) return [this.unkId];
    const ids: number[] = [];
    for (let start = 0; start < chars.length; ) {
      let end = chars.length;
      let found: number | undefined;
      while (start < end) {
        const piece = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
        found = this.vocab.get(piece);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) return [this.unkId];
      ids.push(found);
      start = end;
    }
    return ids;
  }

  /** Token ids with the post-processor's specials; the text part is cut to fit `maxTokens` in all. */
  encode(text: string, maxTokens = 512): number[] {
    const body = this.preTokenize(this.normalize(text)).flatMap((w) => this.wordPiece(w));
    const room = Math.max(0, maxTokens - this.prefixIds.length - this.suffixIds.length);
    return [...this.prefixIds, ...body.slice(0, room), ...this.suffixIds];
  }
}
