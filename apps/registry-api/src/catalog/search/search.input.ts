import { catalogErrors } from '../catalog-errors';
import { optionalInt, optionalName, optionalText, parseTags } from '../catalog-input';

/** Validated text/tag search: GET /api/v1/search and the `search` GraphQL query. */
export interface TextSearchQuery {
  readonly q?: string;
  readonly tag?: string;
  readonly baseModel?: string;
  readonly limit: number;
}

export function parseTextSearch(raw: Record<string, unknown>): TextSearchQuery {
  const q = optionalText(raw.q, 'q', 500)?.trim() || undefined;
  const tag = optionalText(raw.tag, 'tag', 64)?.trim().toLowerCase() || undefined;
  const baseModel = optionalName(raw.baseModel, 'baseModel');
  if (!q && !tag && !baseModel) throw catalogErrors.invalid(`search needs 'q', 'tag' or 'baseModel'`, { field: 'q' });
  return { q, tag, baseModel, limit: optionalInt(raw.limit, 'limit', 1, 100) ?? 20 };
}

/** Validated adapter → similar adapters query. */
export interface SimilarQuery {
  readonly version: string;
  readonly tag?: string;
  readonly baseModel?: string;
  readonly limit: number;
}

export function parseSimilar(raw: Record<string, unknown>): SimilarQuery {
  const version = raw.version === undefined || raw.version === null || raw.version === '' ? 'latest' : raw.version;
  if (typeof version !== 'string') throw catalogErrors.invalid(`'version' must be a string`, { field: 'version' });
  return {
    version,
    tag: optionalText(raw.tag, 'tag', 64)?.trim().toLowerCase() || undefined,
    baseModel: optionalName(raw.baseModel, 'baseModel'),
    limit: optionalInt(raw.limit, 'limit', 1, 100) ?? 10,
  };
}

/** Longest text query embedded (the text encoder keeps its first tokens anyway). */
export const MAX_QUERY_CHARS = 2_000;

/** Validated text → adapters query (GET /api/v1/search/adapters, GraphQL `searchAdapters`). */
export interface AdapterTextQuery {
  readonly q: string;
  readonly baseModel?: string;
  readonly tags: readonly string[];
  readonly k: number;
}

export function parseAdapterTextSearch(raw: Record<string, unknown>): AdapterTextQuery {
  const q = optionalText(raw.q, 'q', MAX_QUERY_CHARS)?.trim();
  if (!q) throw catalogErrors.invalid(`'q' is required: the text to find adapters for`, { field: 'q' });
  return {
    q,
    baseModel: optionalName(raw.baseModel, 'baseModel'),
    tags: parseTags(raw.tags ?? raw.tag, raw.tags !== undefined ? 'tags' : 'tag'),
    k: optionalInt(raw.k, 'k', 1, 100) ?? 10,
  };
}
