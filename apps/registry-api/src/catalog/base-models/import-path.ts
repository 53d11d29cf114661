import { lstat, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { catalogErrors } from '../catalog-errors';

/** A file of a server-side model folder, resolved and proven to sit inside an allowed root. */
export interface ImportableFile {
  readonly name: string;
  readonly path: string;
  readonly size: number;
}

function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves a client-supplied server path for base-model import. The real path (symlinks and '..'
 * resolved by the OS, not by string tricks) must lie inside one of MODEL_IMPORT_ROOTS' real paths;
 * an empty root list disables the feature. Returns the directory's regular files, each also checked
 * after resolving its own symlinks, so a link inside an allowed folder cannot point outside it.
 */
export async function resolveImportDirectory(requested: string, roots: readonly string[]): Promise<ImportableFile[]> {
  if (roots.length === 0) {
    throw catalogErrors.forbidden('importing base models from server paths is disabled (MODEL_IMPORT_ROOTS is empty)');
  }
  if (!path.isAbsolute(requested)) throw catalogErrors.invalid(`import path '${requested}' must be absolute`, { path: requested });
  const realRoots = await Promise.all(roots.map((r) => realpath(r).catch(() => null)));
  const resolved = await realpath(requested).catch(() => {
    throw catalogErrors.notFound(`import path '${requested}'`, { path: requested });
  });
  const root = realRoots.find((r): r is string => r !== null && isInside(r, resolved));
  if (root === undefined) {
    throw catalogErrors.forbidden(`import path '${requested}' is outside MODEL_IMPORT_ROOTS`, { path: requested });
  }
  const info = await lstat(resolved);
  if (!info.isDirectory()) throw catalogErrors.invalid(`import path '${requested}' is not a directory`, { path: requested });

  const files: ImportableFile[] = [];
  for (const entry of await readdir(resolved, { withFileTypes: true })) {
    if (entry.isDirectory()) continue;
    const full = path.join(resolved, entry.name);
    const target = await realpath(full).catch(() => null);
    if (target === null || !isInside(root, target)) {
      throw catalogErrors.forbidden(`'${entry.name}' in the import folder resolves outside MODEL_IMPORT_ROOTS`, {
        file: entry.name,
      });
    }
    const stat = await lstat(target);
    if (!stat.isFile()) continue;
    files.push({ name: entry.name, path: target, size: stat.size });
  }
  return files;
}
