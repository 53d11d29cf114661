/**
 * Translates the regexes in tokenizer.json (Oniguruma / Rust syntax, as Hugging Face
 * tokenizers compiles them) into JavaScript regexes with the `u` flag.
 *
 * Differences handled:
 * - `(?i:...)` scoped case-insensitivity (JavaScript before ES2025 has no inline modifiers):
 *   letters inside the group become two-case classes, `a` -> `[aA]`.
 * - Identity escapes of non-syntax characters (`\'`, `\ `) are errors under `u`: the backslash
 *   is dropped.
 * - `\p{L}`, `\p{N}`, `\s`, `\r\n`, lookahead `(?!...)`, classes and quantifiers carry over.
 */
import { PeftCoreError } from '../errors';

const SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));

function caseless(ch: string, inClass: boolean): string {
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  if (lower === upper) return ch;
  return inClass ? `${lower}${upper}` : `[${lower}${upper}]`;
}

export function translatePattern(pattern: string): string {
  let out = '';
  let inClass = false;
  // Stack of group kinds; 'i' marks a case-insensitive group.
  const groups: Array<'i' | 'plain'> = [];
  const caseInsensitive = (): boolean => groups.includes('i');
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) throw new PeftCoreError('TOKENIZER_INVALID', `pattern ends with a backslash: ${pattern}`);
      if (/[A-Za-z0-9]/.test(next)) {
        // \p{..} / \P{..} / \x.. / \u.... : copy the escape with its argument.
        if ((next === 'p' || next === 'P') && pattern[i + 2] === '{') {
          const close = pattern.indexOf('}', i + 3);
          out += pattern.slice(i, close + 1);
          i = close;
        } else {
          out += `\\${next}`;
          i++;
        }
      } else {
        // `\-` is valid under `u` only inside a class.
        out += SYNTAX.has(next) || (next === '-' && inClass) ? `\\${next}` : next;
        i++;
      }
      continue;
    }
    if (inClass) {
      if (ch === ']') inClass = false;
      out += caseInsensitive() && /\p{L}/u.test(ch) ? caseless(ch, true) : ch;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      out += ch;
      if (pattern[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (pattern[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (ch === '(') {
      if (pattern.startsWith('(?i:', i)) {
        groups.push('i');
        out += '(?:';
        i += 3;
        continue;
      }
      groups.push('plain');
      out += ch;
      continue;
    }
    if (ch === ')') {
      groups.pop();
      out += ch;
      continue;
    }
    out += caseInsensitive() && /\p{L}/u.test(ch) ? caseless(ch, false) : ch;
  }
  return out;
}

/** Compiles a tokenizer.json pattern as a global, Unicode JavaScript regex. */
export function compilePattern(pattern: string): RegExp {
  const source = translatePattern(pattern);
  try {
    return new RegExp(source, 'gu');
  } catch (e) {
    throw new PeftCoreError('TOKENIZER_INVALID', `cannot compile pre-tokenizer pattern ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
}

/** Escapes a literal string for use inside a JavaScript regex. */
export function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}
