/**
 * A small, fast, deterministic string hash (FNV-1a over UTF-8 bytes, then MurmurHash3's 32-bit
 * finaliser so that nearby strings land far apart). Not cryptographic: it assigns examples to
 * splits and derives seeds, where only stability and an even spread matter.
 */
const encoder = new TextEncoder();

export function hashString32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return finalize32(h);
}

/** MurmurHash3 fmix32: a bijective avalanche step on a 32-bit word. */
export function finalize32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** The hash mapped to [0, 1). */
export function hashFraction(text: string): number {
  return hashString32(text) / 4294967296;
}
