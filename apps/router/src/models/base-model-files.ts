import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { BlobReader } from '../registry/blob-reader';
import type { RegistryClient } from '../registry/registry-client';
import type { RegistryBaseModel } from '../registry/registry-types';

/**
 * Materialises a registered base model as a Hugging Face folder under `root` (one folder per
 * registry id, so a re-registered name never reuses stale files). Files already there with the
 * right size are kept; each file is written to a temp name and renamed, so a crash never leaves a
 * truncated file under the real name.
 */
export async function materialiseBaseModel(root: string, model: RegistryBaseModel, registry: RegistryClient, blobs: BlobReader): Promise<string> {
  const dir = path.join(root, 'models', `${model.name}-${model.id}`);
  await mkdir(dir, { recursive: true });
  for (const file of model.files) {
    const target = path.join(dir, file.path);
    if (path.relative(dir, target).startsWith('..')) throw new Error(`base model ${model.name}: file path ${file.path} escapes its folder`);
    const existing = await stat(target).catch(() => null);
    if (existing?.size === file.size) continue;
    const bytes = await blobs.read(file.sha256, () => registry.baseModelFile(model.name, file.path));
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    await writeFile(tmp, bytes);
    await rename(tmp, target);
  }
  return dir;
}
