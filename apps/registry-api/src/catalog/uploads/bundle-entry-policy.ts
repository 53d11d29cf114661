import { catalogErrors } from '../catalog-errors';

/** Which entries a bundle may hold and how large each may be. */
export interface BundlePolicy {
  /** Byte limit for an entry, or undefined when the entry name is not expected in this bundle. */
  entryLimit(name: string): number | undefined;
  /** Limit on all entries' uncompressed bytes together (zip-bomb guard). */
  readonly maxTotalBytes: number;
  readonly maxEntries: number;
}

/**
 * Checks one raw entry name from a tar or zip and returns its normalised relative path, or throws
 * naming the problem. Rejected: absolute paths (POSIX, Windows drive, UNC), backslashes, '..'
 * segments, NUL bytes and empty names. Directory entries are signalled by the caller.
 */
export function checkEntryName(raw: string): string {
  if (raw.length === 0 || raw.includes('\0')) throw catalogErrors.invalid('bundle entry has an empty or NUL-containing name');
  if (raw.includes('\\')) throw catalogErrors.invalid(`bundle entry '${raw}' contains a backslash`, { entry: raw });
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) {
    throw catalogErrors.invalid(`bundle entry '${raw}' is an absolute path`, { entry: raw });
  }
  const segments = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) {
    throw catalogErrors.invalid(`bundle entry '${raw}' escapes the bundle (path traversal)`, { entry: raw });
  }
  if (segments.length === 0) throw catalogErrors.invalid(`bundle entry '${raw}' has no file name`, { entry: raw });
  return segments.join('/');
}

/**
 * Bundles are accepted either flat (`adapter_config.json` at the root) or with every file under one
 * common top-level folder (`my-adapter/adapter_config.json`, as `tar czf x.tgz my-adapter` makes).
 * Entries arrive one by one (tar is a stream), so the first file entry fixes the layout and every
 * later entry must agree with it. Deeper nesting is never expected.
 */
export class BundleLayout {
  private root: string | null | undefined;

  /** Returns the entry's plain file name after removing the common folder, or throws. */
  fileName(normalised: string): string {
    const parts = normalised.split('/');
    if (parts.length > 2) {
      throw catalogErrors.invalid(`unexpected bundle entry '${normalised}': files must not be nested in sub-folders`, {
        entry: normalised,
      });
    }
    const root = parts.length === 2 ? parts[0] : null;
    if (this.root === undefined) this.root = root;
    else if (this.root !== root) {
      throw catalogErrors.invalid(`unexpected bundle entry '${normalised}': all files must share one top-level folder`, {
        entry: normalised,
      });
    }
    return parts[parts.length - 1];
  }

  /** Directory entries are only allowed as the common folder itself. */
  directory(normalised: string): void {
    if (normalised.includes('/')) {
      throw catalogErrors.invalid(`unexpected bundle directory '${normalised}': files must not be nested in sub-folders`, {
        entry: normalised,
      });
    }
  }
}
