/**
 * The text-side stages of a tokenizer.json pipeline: normalizer and pre-tokenizer. Each is
 * built once from its JSON into a plain function.
 */
import { toByteLevel } from './byte-level';
import { compilePattern, escapeRegExp } from './regex';
import type { NormalizerJson, PreTokenizerJson, SplitBehavior } from './tokenizer-json';

export type Normalizer = (text: string) => string;
/** Splits each piece into smaller pieces (possibly rewriting them, as ByteLevel does). */
export type PreTokenizer = (pieces: string[]) => string[];

export function buildNormalizer(json: NormalizerJson | null): Normalizer {
  if (json === null) return (text) => text;
  switch (json.type) {
    case 'Sequence': {
      const steps = json.normalizers.map(buildNormalizer);
      return (text) => steps.reduce((t, step) => step(t), text);
    }
    case 'Lowercase':
      return (text) => text.toLowerCase();
    default: {
      const form = json.type;
      return (text) => text.normalize(form);
    }
  }
}

/** GPT-2's pre-tokenizer regex, used by ByteLevel when use_regex is true. */
export const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

interface Segment {
  readonly text: string;
  readonly isMatch: boolean;
}

function segments(text: string, re: RegExp): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) {
    const start = m.index;
    if (m[0].length === 0) continue;
    if (start > last) out.push({ text: text.slice(last, start), isMatch: false });
    out.push({ text: m[0], isMatch: true });
    last = start + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last), isMatch: false });
  return out;
}

/** Hugging Face's Split semantics for one piece. */
export function splitWithBehavior(text: string, re: RegExp, behavior: SplitBehavior, invert = false): string[] {
  const segs = segments(text, re).map((s) => (invert ? { text: s.text, isMatch: !s.isMatch } : s));
  const out: string[] = [];
  switch (behavior) {
    case 'Isolated':
      return segs.map((s) => s.text);
    case 'Removed':
      return segs.filter((s) => !s.isMatch).map((s) => s.text);
    case 'MergedWithPrevious': {
      for (const s of segs) {
        if (s.isMatch && out.length > 0) out[out.length - 1] += s.text;
        else out.push(s.text);
      }
      return out;
    }
    case 'MergedWithNext': {
      let pending = '';
      for (const s of segs) {
        if (s.isMatch) pending += s.text;
        else {
          out.push(pending + s.text);
          pending = '';
        }
      }
      if (pending) out.push(pending);
      return out;
    }
  }
}

export function buildPreTokenizer(json: PreTokenizerJson | null): PreTokenizer {
  if (json === null) return (pieces) => pieces;
  switch (json.type) {
    case 'Sequence': {
      const steps = json.pretokenizers.map(buildPreTokenizer);
      return (pieces) => steps.reduce((p, step) => step(p), pieces);
    }
    case 'Split': {
      const re = 'Regex' in json.pattern ? compilePattern(json.pattern.Regex) : new RegExp(escapeRegExp(json.pattern.String), 'gu');
      return (pieces) => pieces.flatMap((p) => splitWithBehavior(p, re, json.behavior, json.invert === true));
    }
    case 'Digits': {
      const re = json.individual_digits ? /\p{N}/gu : /\p{N}+/gu;
      return (pieces) => pieces.flatMap((p) => splitWithBehavior(p, re, 'Isolated'));
    }
    case 'ByteLevel': {
      const re = json.use_regex !== false ? compilePattern(GPT2_PATTERN) : null;
      const addPrefixSpace = json.add_prefix_space === true;
      return (pieces) =>
        pieces.flatMap((piece) => {
          const text = addPrefixSpace && !piece.startsWith(' ') ? ` ${piece}` : piece;
          const parts = re ? splitWithBehavior(text, re, 'Isolated') : [text];
          return parts.map(toByteLevel);
        });
    }
  }
}
