import { BlobAddressError } from './errors';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True when `value` is a blob address: a sha256 digest as 64 lowercase hex digits. */
export function isBlobAddress(value: string): boolean {
  return SHA256_HEX.test(value);
}

/**
 * Throws BlobAddressError unless `value` is a blob address. Every driver calls this before
 * turning an address into a path or key, so no caller-supplied string can escape the store.
 */
export function assertBlobAddress(value: string): void {
  if (!isBlobAddress(value)) throw new BlobAddressError(value);
}

/**
 * The sharded relative location of a blob, `ab/cd/abcd…`: two levels of 256 directories keep
 * every directory small (a million blobs → ~15 per leaf) on file systems that slow down with
 * large directories, and spread S3 keys over prefixes.
 */
export function shardedPath(sha256: string): string {
  assertBlobAddress(sha256);
  return `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}
