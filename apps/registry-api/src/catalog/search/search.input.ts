import { catalogErrors } from '../catalog-errors';
import { optionalInt, optionalName, optionalText } from '../catalog-input';

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
