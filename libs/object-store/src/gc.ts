import type { BlobEntry, BlobReferences, GcOptions, GcResult } from './blob-store';
import { BlobStoreConfigError } from './errors';

/**
 * Mark-and-sweep shared by the drivers: walk `entries`, delete each blob that is past the
 * grace period and unreferenced. Age is checked first so the (possibly remote) reference
 * lookup runs only for candidates.
 */
export async function collectGarbage(
  entries: AsyncIterable<BlobEntry>,
  references: BlobReferences,
  options: GcOptions,
  deleteBlob: (sha256: string) => Promise<void>,
): Promise<GcResult> {
  if (!Number.isFinite(options.graceMs) || options.graceMs < 0) {
    throw new BlobStoreConfigError(`gc graceMs must be a non-negative number of milliseconds, got ${options.graceMs}`);
  }
  const cutoff = (options.now ?? Date.now()) - options.graceMs;
  const isReferenced = typeof references === 'function' ? references : async (sha: string) => references.has(sha);
  const deleted: string[] = [];
  let kept = 0;
  for await (const entry of entries) {
    if (entry.modifiedAt.getTime() >= cutoff || (await isReferenced(entry.sha256))) {
      kept++;
      continue;
    }
    await deleteBlob(entry.sha256);
    deleted.push(entry.sha256);
  }
  return { deleted, kept };
}
