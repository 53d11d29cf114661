/**
 * A byte-level BPE tokenizer loaded from Hugging Face tokenizer.json (Llama 3, Qwen2/3,
 * SmolLM, GPT-2 style). Encoding follows Hugging Face tokenizers:
 * 1. added tokens are split out of the raw text first (those with normalized = false), then
 *    from the normalized remainder (normalized = true), longest first, honouring
 *    lstrip / rstrip / single_word;
 * 2. the normalizer runs on the remaining text; the pre-tokenizer splits it into pieces
 *    (regex Split, then ByteLevel mapping bytes to printable characters);
 * 3. the BPE model turns each piece into ids;
 * 4. with addSpecialTokens, a TemplateProcessing post-processor adds e.g. BOS.
 * Decoding maps tokens back to bytes (ByteLevel decoder) and decodes UTF-8, replacing
 * invalid sequences with U+FFFD as Hugging Face does.
 */
import { PeftCoreError } from '../errors';
import { fromByteLevel } from './byte-level';
import { BpeModel } from './bpe';
import { buildNormalizer, buildPreTokenizer, type Normalizer, type PreTokenizer } from './pipeline';
import { escapeRegExp } from './regex';
import { parseTokenizerJson, type AddedTokenJson, type DecoderJson, type PostProcessorJson, type TokenizerJson } from './tokenizer-json';

export interface EncodeOptions {
  /** Apply the post-processor's template (e.g. prepend BOS). Default true, as in Hugging Face. */
  readonly addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop added tokens marked special (BOS, EOS, chat markers). Default false. */
  readonly skipSpecialTokens?: boolean;
}

/** The parts of tokenizer_config.json the loader uses. */
export interface TokenizerConfigJson {
  readonly bos_token?: string | { content: string } | null;
  readonly eos_token?: string | { content: string } | null;
  readonly chat_template?: unknown;
}

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant' | string;
  readonly content: string;
}

export type ChatFormat = 'chatml' | 'llama3' | 'plain';

interface Piece {
  readonly text: string;
  /** Set when the piece is an added token. */
  readonly id?: number;
}

function buildAddedTokenRegex(tokens: readonly AddedTokenJson[]): RegExp | null {
  if (tokens.length === 0) return null;
  const sorted = [...tokens].sort((a, b) => b.content.length - a.content.length || a.id - b.id);
  const alternatives = sorted.map((t) => {
    let p = escapeRegExp(t.content);
    if (t.single_word) p = `(?<![\\p{L}\\p{N}_])${p}(?![\\p{L}\\p{N}_])`;
    if (t.lstrip) p = `\\s*${p}`;
    if (t.rstrip) p = `${p}\\s*`;
    return p;
  });
  return new RegExp(alternatives.join('|'), 'gu');
}

export class Tokenizer {
  readonly bosTokenId: number | undefined;
  readonly eosTokenId: number | undefined;
  private readonly model: BpeModel;
  private readonly idToTokenTable: Array<string | undefined> = [];
  private readonly tokenIds = new Map<string, number>();
  private readonly specialIds = new Set<number>();
  private readonly addedByContent = new Map<string, AddedTokenJson>();
  private readonly rawAddedRegex: RegExp | null;
  private readonly normalizedAddedRegex: RegExp | null;
  private readonly normalize: Normalizer;
  private readonly preTokenize: PreTokenizer;
  private readonly template: number[][] | null;
  private readonly byteLevelDecoder: boolean;

  private constructor(
    readonly json: TokenizerJson,
    config: TokenizerConfigJson | undefined,
  ) {
    this.model = new BpeModel(json.model);
    for (const [token, id] of this.model.vocab) this.setToken(token, id);
    for (const t of json.added_tokens) {
      this.setToken(t.content, t.id);
      this.addedByContent.set(t.content, t);
      if (t.special) this.specialIds.add(t.id);
    }
    this.rawAddedRegex = buildAddedTokenRegex(json.added_tokens.filter((t) => t.normalized !== true));
    this.normalizedAddedRegex = buildAddedTokenRegex(json.added_tokens.filter((t) => t.normalized === true));
    this.normalize = buildNormalizer(json.normalizer);
    this.preTokenize = buildPreTokenizer(json.pre_tokenizer);
    this.template = this.buildTemplate(json.post_processor);
    this.byteLevelDecoder = hasByteLevel(json.decoder);
    this.bosTokenId = this.resolveSpecial(config?.bos_token, ['<|begin_of_text|>', '<s>']);
    this.eosTokenId = this.resolveSpecial(config?.eos_token, ['<|end_of_text|>', '<|im_end|>', '<|endoftext|>', '</s>']);
  }

  /** Loads a tokenizer.json object (and optionally tokenizer_config.json for BOS/EOS). */
  static fromJson(json: unknown, config?: TokenizerConfigJson): Tokenizer {
    return new Tokenizer(parseTokenizerJson(json), config);
  }

  private setToken(token: string, id: number): void {
    this.tokenIds.set(token, id);
    this.idToTokenTable[id] = token;
  }

  private resolveSpecial(configured: TokenizerConfigJson['bos_token'], fallbacks: string[]): number | undefined {
    if (configured !== undefined) {
      if (configured === null) return undefined;
      const content = typeof configured === 'string' ? configured : configured.content;
      const id = this.tokenIds.get(content);
      if (id === undefined) throw new PeftCoreError('TOKENIZER_INVALID', `tokenizer_config token ${JSON.stringify(content)} is not in the vocabulary`);
      return id;
    }
    for (const token of fallbacks) {
      const id = this.tokenIds.get(token);
      if (id !== undefined && this.specialIds.has(id)) return id;
    }
    return undefined;
  }

  /** The single-sequence template as runs of fixed ids, with an empty run where the text goes. */
  private buildTemplate(json: PostProcessorJson | null): number[][] | null {
    if (json === null || json.type === 'ByteLevel') return null;
    if (json.type === 'Sequence') {
      const templates = json.processors.map((p) => this.buildTemplate(p)).filter((t): t is number[][] => t !== null);
      if (templates.length > 1) throw new PeftCoreError('UNSUPPORTED', 'tokenizer.json post_processor: more than one TemplateProcessing');
      return templates[0] ?? null;
    }
    const runs: number[][] = [];
    for (const piece of json.single) {
      if ('SpecialToken' in piece) runs.push(json.special_tokens[piece.SpecialToken.id].ids);
      else runs.push([]);
    }
    return runs;
  }

  get vocabSize(): number {
    return this.idToTokenTable.length;
  }

  tokenToId(token: string): number | undefined {
    return this.tokenIds.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.idToTokenTable[id];
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  private splitAdded(pieces: Piece[], re: RegExp | null): Piece[] {
    if (re === null) return pieces;
    const out: Piece[] = [];
    for (const piece of pieces) {
      if (piece.id !== undefined) {
        out.push(piece);
        continue;
      }
      let last = 0;
      for (const m of piece.text.matchAll(re)) {
        if (m[0].length === 0) continue;
        if (m.index > last) out.push({ text: piece.text.slice(last, m.index) });
        const content = this.stripToContent(m[0]);
        out.push({ text: content, id: this.tokenIds.get(content) as number });
        last = m.index + m[0].length;
      }
      if (last < piece.text.length) out.push({ text: piece.text.slice(last) });
    }
    return out;
  }

  /** The added token inside a match that also swallowed surrounding whitespace (lstrip/rstrip). */
  private stripToContent(match: string): string {
    if (this.addedByContent.has(match)) return match;
    const trimmed = match.trim();
    if (this.addedByContent.has(trimmed)) return trimmed;
    for (const content of this.addedByContent.keys()) if (match.includes(content)) return content;
    throw new PeftCoreError('TOKENIZER_INVALID', `added-token match ${JSON.stringify(match)} has no token`);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const ids: number[] = [];
    let pieces = this.splitAdded([{ text }], this.rawAddedRegex);
    pieces = pieces.map((p) => (p.id === undefined ? { text: this.normalize(p.text) } : p));
    pieces = this.splitAdded(pieces, this.normalizedAddedRegex);
    for (const piece of pieces) {
      if (piece.id !== undefined) {
        ids.push(piece.id);
        continue;
      }
      if (piece.text === '') continue;
      for (const word of this.preTokenize([piece.text])) {
        if (word !== '') ids.push(...this.model.tokenize(word));
      }
    }
    if (options.addSpecialTokens === false || this.template === null) return ids;
    return this.template.flatMap((run) => (run.length === 0 ? ids : run));
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const bytes: number[] = [];
    const encoder = new TextEncoder();
    let text = '';
    const flush = (): void => {
      if (bytes.length > 0) text += new TextDecoder('utf-8').decode(new Uint8Array(bytes));
      bytes.length = 0;
    };
    for (const id of ids) {
      if (options.skipSpecialTokens && this.specialIds.has(id)) continue;
      const token = this.idToTokenTable[id];
      if (token === undefined) throw new PeftCoreError('TOKENIZER_INVALID', `token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
      const tokenBytes = this.byteLevelDecoder ? fromByteLevel(token) : null;
      if (tokenBytes) bytes.push(...tokenBytes);
      else if (this.byteLevelDecoder) bytes.push(...encoder.encode(token));
      else {
        flush();
        text += token;
      }
    }
    flush();
    return text;
  }

  /** Which built-in chat layout this vocabulary supports (see applyChatTemplate). */
  chatFormat(): ChatFormat {
    if (this.tokenIds.has('<|im_start|>') && this.tokenIds.has('<|im_end|>')) return 'chatml';
    if (this.tokenIds.has('<|start_header_id|>') && this.tokenIds.has('<|eot_id|>')) return 'llama3';
    return 'plain';
  }

  /**
   * Renders a conversation as a prompt string. Jinja chat templates from tokenizer_config are
   * not interpreted yet; instead the layout is chosen from the vocabulary:
   * - ChatML (Qwen): `<|im_start|>{role}\n{content}<|im_end|>\n` per message;
   * - Llama 3: `<|begin_of_text|>` then `<|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>`;
   * - plain (our own small models): `{role}: {content}\n` per message.
   * With addGenerationPrompt (default true) the assistant's header is appended.
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    const addPrompt = options.addGenerationPrompt !== false;
    switch (this.chatFormat()) {
      case 'chatml':
        return messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') + (addPrompt ? '<|im_start|>assistant\n' : '');
      case 'llama3': {
        const header = (role: string): string => `<|start_header_id|>${role}<|end_header_id|>\n\n`;
        const bos = this.tokenIds.has('<|begin_of_text|>') ? '<|begin_of_text|>' : '';
        return bos + messages.map((m) => `${header(m.role)}${m.content}<|eot_id|>`).join('') + (addPrompt ? header('assistant') : '');
      }
      case 'plain':
        return messages.map((m) => `${m.role}: ${m.content}\n`).join('') + (addPrompt ? 'assistant:' : '');
    }
  }
}

function hasByteLevel(json: DecoderJson | null): boolean {
  if (json === null) return false;
  if (json.type === 'Sequence') return json.decoders.some(hasByteLevel);
  return json.type === 'ByteLevel';
}
