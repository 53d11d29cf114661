/**
 * GPT-2's byte-to-unicode table: each of the 256 byte values gets a printable character, so
 * that byte-level BPE can work on strings. Printable Latin-1 bytes map to themselves; the
 * rest (controls, space, etc.) map to U+0100 onwards in byte order ("Ġ" is the space).
 */
function buildByteToChar(): string[] {
  const printable: number[] = [];
  const ranges: Array<[number, number]> = [
    [0x21, 0x7e],
    [0xa1, 0xac],
    [0xae, 0xff],
  ];
  for (const [from, to] of ranges) for (let b = from; b <= to; b++) printable.push(b);
  const table: string[] = new Array<string>(256);
  const isPrintable = new Set(printable);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = isPrintable.has(b) ? String.fromCharCode(b) : String.fromCharCode(256 + next++);
  }
  return table;
}

/** BYTE_TO_CHAR[b] is the character standing for byte b. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** The inverse table. */
export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`, each replaced by its stand-in character. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of encoder.encode(text)) out += BYTE_TO_CHAR[b];
  return out;
}

/**
 * Bytes for a token string, or null when some character is not a byte stand-in (added tokens
 * such as "<|im_start|>" are all printable ASCII, so they do map, to themselves).
 */
export function fromByteLevel(token: string): number[] | null {
  const bytes: number[] = [];
  for (const ch of token) {
    const b = CHAR_TO_BYTE.get(ch);
    if (b === undefined) return null;
    bytes.push(b);
  }
  return bytes;
}
