import { catalogErrors } from '../catalog-errors';

/** How a client names one version of an adapter: a number, the latest one, or an alias. */
export type VersionRef = { kind: 'number'; version: number } | { kind: 'latest' } | { kind: 'alias'; alias: string };

const ALIAS_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

/** Parses 'v3', '3', 'latest' or an alias name ('prod'). */
export function parseVersionRef(ref: string): VersionRef {
  if (ref === 'latest') return { kind: 'latest' };
  const numbered = /^v?(\d{1,9})$/.exec(ref);
  if (numbered) {
    const version = Number(numbered[1]);
    if (version < 1) throw catalogErrors.invalid(`version numbers start at 1, got ${JSON.stringify(ref)}`);
    return { kind: 'number', version };
  }
  if (ALIAS_PATTERN.test(ref)) return { kind: 'alias', alias: ref };
  throw catalogErrors.invalid(`${JSON.stringify(ref)} is not a version reference (vN, N, latest or an alias name)`);
}

/**
 * Alias names are lower-case words; names that read as a version number or 'latest' are refused so
 * a reference always means one thing.
 */
export function requireAliasName(value: unknown): string {
  if (typeof value !== 'string' || !ALIAS_PATTERN.test(value)) {
    throw catalogErrors.invalid(`alias must be 1-64 characters of a-z, 0-9, '.', '_' or '-', starting with a letter; got ${JSON.stringify(value)}`, {
      field: 'alias',
    });
  }
  if (value === 'latest' || /^v\d+$/.test(value)) {
    throw catalogErrors.invalid(`alias ${JSON.stringify(value)} would be read as a version reference`, { field: 'alias' });
  }
  return value;
}

/** Splits 'adapter@ref' (ref defaults to latest). */
export function parseQualifiedVersion(value: string): { adapter: string; ref: VersionRef } {
  const at = value.lastIndexOf('@');
  if (at < 0) return { adapter: value, ref: { kind: 'latest' } };
  return { adapter: value.slice(0, at), ref: parseVersionRef(value.slice(at + 1)) };
}

export function describeRef(ref: VersionRef): string {
  return ref.kind === 'number' ? `v${ref.version}` : ref.kind === 'latest' ? 'latest' : ref.alias;
}
