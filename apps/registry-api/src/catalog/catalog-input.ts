import { catalogErrors } from './catalog-errors';

/**
 * Checks for values that arrive from clients (JSON bodies, multipart fields, query strings, GraphQL
 * args). Each throws VALIDATION_FAILED naming the field and what was wrong with it.
 */

/** Adapter, base model and alias names: URL-safe, start alphanumeric, at most 128 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Tags: lower-case words joined by '-', '_', '.', ':' (e.g. "lang:de"). */
export const TAG_PATTERN = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
export const MAX_TAGS = 32;
export const MAX_DESCRIPTION_CHARS = 20_000;

export function requireName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) throw catalogErrors.invalid(`'${field}' is required`, { field });
  if (!NAME_PATTERN.test(value)) {
    throw catalogErrors.invalid(
      `'${field}' must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit; got ${JSON.stringify(value)}`,
      { field },
    );
  }
  return value;
}

export function optionalName(value: unknown, field: string): string | undefined {
  return value === undefined || value === null || value === '' ? undefined : requireName(value, field);
}

export function optionalText(value: unknown, field: string, maxChars: number): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw catalogErrors.invalid(`'${field}' must be a string`, { field });
  if (value.length > maxChars) throw catalogErrors.invalid(`'${field}' is longer than ${maxChars} characters`, { field });
  return value;
}

/** Tags from an array or a comma-separated string; trimmed, lower-cased, de-duplicated. */
export function parseTags(value: unknown, field = 'tags'): string[] {
  if (value === undefined || value === null || value === '') return [];
  const raw = typeof value === 'string' ? value.split(',') : Array.isArray(value) ? value : null;
  if (raw === null) throw catalogErrors.invalid(`'${field}' must be a list of tags or a comma-separated string`, { field });
  const tags = new Set<string>();
  for (const item of raw) {
    if (typeof item !== 'string') throw catalogErrors.invalid(`'${field}' must contain only strings`, { field });
    const tag = item.trim().toLowerCase();
    if (tag === '') continue;
    if (!TAG_PATTERN.test(tag)) {
      throw catalogErrors.invalid(`tag ${JSON.stringify(item)} must be 1-64 characters of a-z, 0-9, '.', '_', ':' or '-'`, { field, tag: item });
    }
    tags.add(tag);
  }
  if (tags.size > MAX_TAGS) throw catalogErrors.invalid(`at most ${MAX_TAGS} tags are allowed, got ${tags.size}`, { field });
  return [...tags];
}

export function optionalInt(value: unknown, field: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw catalogErrors.invalid(`'${field}' must be an integer between ${min} and ${max}, got ${JSON.stringify(value)}`, { field });
  }
  return n;
}

export function optionalDate(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw catalogErrors.invalid(`'${field}' must be an ISO-8601 date-time, got ${JSON.stringify(value)}`, { field });
  return d;
}

export function optionalEnum<T extends string>(value: unknown, field: string, allowed: readonly T[]): T | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw catalogErrors.invalid(`'${field}' must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`, { field });
  }
  return value as T;
}

export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw catalogErrors.invalid(`${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}
