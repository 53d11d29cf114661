import { BlobRangeError } from './errors';

/**
 * Validates an inclusive byte range against a blob of `size` bytes and clamps `end` to the
 * last byte. For an empty blob only 0..n is accepted and yields end < start (nothing to read).
 */
export function resolveRange(size: number, start: number, end: number): { start: number; end: number } {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new BlobRangeError(`invalid byte range ${start}-${end}: need integers 0 <= start <= end`);
  }
  if (size === 0 && start === 0) return { start: 0, end: -1 };
  if (start >= size) throw new BlobRangeError(`byte range starts at ${start}, past the end of a ${size}-byte blob`);
  return { start, end: Math.min(end, size - 1) };
}
