import type { BlobStore } from '@palette/object-store';
import type { PrismaClient } from '../../generated/prisma/client';

/** A validated temp file about to become a blob. */
export interface StageableFile {
  readonly path: string;
  readonly sha256: string;
}

/**
 * Moves validated temp files into the blob store and remembers which blobs did not exist before,
 * so that if the database transaction that should reference them fails, exactly those are removed
 * again (blobs that were already there belong to someone else). This is what keeps "a rejected
 * upload leaves no blob behind" true after validation succeeded but the commit did not.
 */
export class BlobStaging {
  private readonly created = new Set<string>();

  constructor(private readonly blobs: BlobStore) {}

  async put(file: StageableFile): Promise<void> {
    if (await this.blobs.has(file.sha256)) return;
    // expectedSha256: the store re-hashes while copying, so a temp file changed since validation is refused.
    await this.blobs.putFile(file.path, { expectedSha256: file.sha256 });
    this.created.add(file.sha256);
  }

  /** Deletes the blobs this staging created that no BlobRef or base model file points at. */
  async rollback(prisma: PrismaClient): Promise<void> {
    for (const sha256 of this.created) {
      const [refs, files] = await Promise.all([
        prisma.blobRef.count({ where: { sha256 } }),
        prisma.baseModelFile.count({ where: { blobSha256: sha256 } }),
      ]);
      if (refs === 0 && files === 0) await this.blobs.delete(sha256);
    }
    this.created.clear();
  }
}
