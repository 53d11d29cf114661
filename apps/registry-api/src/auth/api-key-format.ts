import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Keys look like `plt_<publicId>_<secret>`: publicId (12 lowercase alphanumerics) finds the row,
 * secret (43 base64url chars = 256 random bits) proves possession. Only sha256(secret) is stored;
 * a slow hash is unnecessary for a secret with 256 bits of entropy.
 */
const KEY_PATTERN = /^plt_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const PUBLIC_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export interface GeneratedKey {
  publicId: string;
  /** The full key to hand to the client once. Never stored. */
  plaintext: string;
  secretHash: string;
}

export function generateApiKey(): GeneratedKey {
  const bytes = randomBytes(12);
  let publicId = '';
  for (const byte of bytes) publicId += PUBLIC_ID_ALPHABET[byte % PUBLIC_ID_ALPHABET.length];
  const secret = randomBytes(32).toString('base64url');
  return { publicId, plaintext: `plt_${publicId}_${secret}`, secretHash: hashSecret(secret) };
}

/** Splits a presented key; null when it is not in the key format at all. */
export function parseApiKey(presented: string): { publicId: string; secret: string } | null {
  const match = KEY_PATTERN.exec(presented);
  return match ? { publicId: match[1]!, secret: match[2]! } : null;
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
