import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { BlobReader } from './blob-reader';
import type { RegistryClient } from './registry-client';
import type { RegistryArtifact } from './registry-types';

/**
 * Materialises a registry artifact (router, retriever, discriminator) as a directory under `root`
 * — `<root>/artifacts/<kind>/<name>-v<version>-<id>/` — that peft-core's directory readers
 * (readRouterArtifact, readRetrieverArtifact, readDiscriminatorDir) open directly. As for base
 * models (models/base-model-files.ts): bytes come from the shared object store when there is one,
 * else from the registry's file route, and are checked against their sha256 either way; files
 * already there with the right size are kept; each file lands under a temp name and is renamed,
 * so a crash never leaves a truncated file under the real name. Returns the directory.
 */
export async function materialiseArtifact(root: string, artifact: RegistryArtifact, registry: RegistryClient, blobs: BlobReader): Promise<string> {
  const dir = path.join(root, 'artifacts', artifact.kind, `${artifact.name}-v${artifact.version}-${artifact.id}`);
  await mkdir(dir, { recursive: true });
  for (const file of artifact.files) {
    const target = path.join(dir, file.path);
    // The registry only stores plain file names; refuse anything else rather than write outside `dir`.
    if (path.dirname(path.relative(dir, target)) !== '.') throw new Error(`artifact ${artifact.kind} ${artifact.name}: file path ${file.path} is not a plain file name`);
    const existing = await stat(target).catch(() => null);
    if (existing?.size === file.size) continue;
    const bytes = await blobs.read(file.sha256, () => registry.artifactFile(artifact.id, file.path));
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, target);
  }
  return dir;
}
