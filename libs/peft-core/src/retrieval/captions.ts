/**
 * Captions of one adapter for contrastive training: what the registry knows about it in words.
 * The `train-retriever` job and `npm run eval:retrieval` both derive captions here, so the
 * measured recall is that of the job's recipe.
 *
 * Sources, in order: the description split into sentences, the card (README.md body) split
 * into paragraphs (YAML front matter and markdown heading marks dropped, code fences unwrapped,
 * so usage examples such as `Q: % abc\nA: cba` become captions of their own: they are what
 * lets `auto` routing map a bare prompt to its adapter), the title, and the tags as one line.
 */
import { PeftCoreError } from '../errors';

export interface CaptionSource {
  readonly description?: string;
  /** The model card (README.md), front matter allowed. */
  readonly card?: string;
  readonly title?: string;
  readonly tags?: readonly string[];
}

export interface CaptionOptions {
  /** At most this many captions (the first sources win). Default 24. */
  readonly maxCaptions?: number;
  /** Longer captions are cut at a word boundary (the text encoder truncates tokens anyway). Default 240. */
  readonly maxChars?: number;
}

/** Sentences of a prose description ("A. B? C!" → three). */
export function splitSentences(text: string): string[] {
  return text
    .replace(/\s+/g, ' ')
    .split(/(?<=[.!?])\s+(?=[A-Z0-9"'(])/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Paragraphs of a markdown card, without front matter, heading marks or code fences. */
export function cardParagraphs(card: string): string[] {
  let body = card.replace(/\r\n/g, '\n');
  const front = /^---\n[\s\S]*?\n---\n?/.exec(body);
  if (front) body = body.slice(front[0].length);
  const out: string[] = [];
  // A fenced block is kept verbatim (its blank lines separate examples); prose paragraphs are
  // joined onto one line.
  const parts = body.split(/^```[^\n]*$/m);
  parts.forEach((part, i) => {
    const inFence = i % 2 === 1;
    for (const para of part.split(/\n\s*\n/)) {
      const lines = para
        .split('\n')
        .map((l) => (inFence ? l.trimEnd() : l.replace(/^\s*#{1,6}\s*/, '').replace(/^\s*[-*]\s+/, '').trim()))
        .filter((l) => l.trim().length > 0);
      if (lines.length === 0) continue;
      out.push(inFence ? lines.join('\n') : lines.join(' '));
    }
  });
  return out;
}

function clip(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, maxChars);
  const space = cut.lastIndexOf(' ');
  return space > maxChars / 2 ? cut.slice(0, space) : cut;
}

/** Distinct, non-empty captions of one adapter (possibly none: such an adapter cannot be trained on). */
export function adapterCaptions(source: CaptionSource, options: CaptionOptions = {}): string[] {
  const maxCaptions = options.maxCaptions ?? 24;
  const maxChars = options.maxChars ?? 240;
  if (!(Number.isInteger(maxCaptions) && maxCaptions > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `captions: maxCaptions must be a positive integer, got ${maxCaptions}`);
  const candidates = [
    ...splitSentences(source.description ?? ''),
    ...cardParagraphs(source.card ?? ''),
    ...(source.title ? [source.title] : []),
    ...(source.tags && source.tags.length > 0 ? [source.tags.join(' ')] : []),
  ];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const c of candidates) {
    const caption = clip(c.trim(), maxChars);
    const key = caption.toLowerCase();
    if (caption.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push(caption);
    if (out.length >= maxCaptions) break;
  }
  return out;
}

/** One usage example of an adapter: the prompt it answers and its answer. */
export interface CardExample {
  readonly prompt: string;
  readonly completion: string;
}

/**
 * A model card with usage examples (what a platform-trained adapter's README carries): a title,
 * the description, and an `## Examples` section with one fenced block whose blank-line separated
 * entries are `prompt + completion`. adapterCaptions turns each example into a caption.
 */
export function exampleCard(title: string, description: string, examples: readonly CardExample[]): string {
  const blocks = examples.map((e) => `${e.prompt}${e.completion}`).join('\n\n');
  return `# ${title}\n\n${description}\n\n## Examples\n\n\`\`\`\n${blocks}\n\`\`\`\n`;
}
