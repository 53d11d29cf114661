import { ARTIFACT_FILE_NAME_PATTERN, ARTIFACT_KINDS, isArtifactKind, type ArtifactKind } from '@palette/job-contracts';
import { NAME_PATTERN } from '../catalog/catalog-input';
import { domainErrors } from '../common';

/**
 * Checks for what clients send to the artifact routes (multipart `spec`, query strings, GraphQL
 * args). Each throws VALIDATION_FAILED naming the field and what was wrong with it.
 */

export const MAX_DESCRIPTION_CHARS = 20_000;
/** Client metadata is kept in a JSON column and returned with every read: keep it small. */
export const MAX_METADATA_BYTES = 64 * 1024;
export const DEFAULT_PAGE = 20;
export const MAX_PAGE = 100;

export function parseKind(value: unknown, field = 'kind'): ArtifactKind {
  if (!isArtifactKind(value)) {
    throw domainErrors.validation(`'${field}' must be one of ${ARTIFACT_KINDS.join(', ')}; got ${JSON.stringify(value ?? null)}`, { field });
  }
  return value;
}

export function parseName(value: unknown, field = 'name'): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw domainErrors.validation(
      `'${field}' must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit; got ${JSON.stringify(value ?? null)}`,
      { field },
    );
  }
  return value;
}

/** `?version=N` (or `vN`); undefined means the latest version. */
export function parseVersion(value: unknown, field = 'version'): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const m = typeof value === 'number' ? [String(value), String(value)] : typeof value === 'string' ? /^v?(\d{1,9})$/.exec(value) : null;
  const n = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw domainErrors.validation(`'${field}' must be a version number ≥ 1 (N or vN); got ${JSON.stringify(value)}`, { field });
  return n;
}

export function parseFilePath(value: unknown): string {
  if (typeof value !== 'string' || !ARTIFACT_FILE_NAME_PATTERN.test(value)) {
    throw domainErrors.validation(`file path ${JSON.stringify(value ?? null)} is not a plain file name (letters, digits, '_', '.', '-'; no slashes)`, { field: 'path' });
  }
  return value;
}

export function parseMetadata(value: unknown, field = 'metadata'): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw domainErrors.validation(`'${field}' must be a JSON object`, { field });
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_METADATA_BYTES) throw domainErrors.validation(`'${field}' is ${bytes} bytes of JSON; at most ${MAX_METADATA_BYTES} are kept`, { field });
  if ('manifest' in value) throw domainErrors.validation(`'${field}.manifest' is reserved: the registry writes the manifest summary there`, { field });
  return value as Record<string, unknown>;
}

/** The `spec` field of POST /artifacts. */
export interface ArtifactSpec {
  readonly kind: ArtifactKind;
  readonly name: string;
  /** Base model name. */
  readonly baseModel?: string;
  /** "adapter@vN" (N, latest or an alias also resolve). */
  readonly adapterVersion?: string;
  readonly description?: string;
  readonly metadata: Record<string, unknown>;
}

const SPEC_KEYS = ['kind', 'name', 'baseModel', 'adapterVersion', 'description', 'metadata'];

export function parseArtifactSpec(raw: string | undefined): ArtifactSpec {
  if (raw === undefined) throw domainErrors.validation("the multipart field 'spec' is required: JSON {kind, name, baseModel?, adapterVersion?, description?, metadata?}", { field: 'spec' });
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (e) {
    throw domainErrors.validation(`'spec' is not valid JSON: ${(e as Error).message}`, { field: 'spec' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw domainErrors.validation("'spec' must be a JSON object", { field: 'spec' });
  const o = value as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !SPEC_KEYS.includes(k));
  if (unknown.length > 0) throw domainErrors.validation(`'spec' has unknown fields: ${unknown.join(', ')} (known: ${SPEC_KEYS.join(', ')})`, { field: 'spec', unknown });
  const kind = parseKind(o.kind, 'spec.kind');
  const name = parseName(o.name, 'spec.name');
  const baseModel = o.baseModel === undefined || o.baseModel === null ? undefined : parseName(o.baseModel, 'spec.baseModel');
  let adapterVersion: string | undefined;
  if (o.adapterVersion !== undefined && o.adapterVersion !== null) {
    if (typeof o.adapterVersion !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(o.adapterVersion)) {
      throw domainErrors.validation(`'spec.adapterVersion' must be "adapter@vN"; got ${JSON.stringify(o.adapterVersion)}`, { field: 'spec.adapterVersion' });
    }
    adapterVersion = o.adapterVersion;
  }
  let description: string | undefined;
  if (o.description !== undefined && o.description !== null) {
    if (typeof o.description !== 'string' || o.description.length > MAX_DESCRIPTION_CHARS) {
      throw domainErrors.validation(`'spec.description' must be a string of at most ${MAX_DESCRIPTION_CHARS} characters`, { field: 'spec.description' });
    }
    description = o.description;
  }
  return {
    kind,
    name,
    ...(baseModel !== undefined ? { baseModel } : {}),
    ...(adapterVersion !== undefined ? { adapterVersion } : {}),
    ...(description !== undefined ? { description } : {}),
    metadata: parseMetadata(o.metadata, 'spec.metadata'),
  };
}

export interface ArtifactListQuery {
  readonly kind?: ArtifactKind;
  readonly name?: string;
  readonly baseModel?: string;
  readonly adapterVersion?: string;
  readonly limit: number;
  readonly cursor?: { readonly createdAt: Date; readonly id: string };
}

export function parseArtifactListQuery(q: Record<string, unknown>): ArtifactListQuery {
  const known = ['kind', 'name', 'baseModel', 'adapterVersion', 'limit', 'cursor'];
  const unknown = Object.keys(q).filter((k) => !known.includes(k) && q[k] !== undefined);
  if (unknown.length > 0) throw domainErrors.validation(`unknown query parameters: ${unknown.join(', ')} (known: ${known.join(', ')})`, { unknown });
  const present = (v: unknown): boolean => v !== undefined && v !== null && v !== '';
  let limit = DEFAULT_PAGE;
  if (present(q.limit)) {
    const n = typeof q.limit === 'number' ? q.limit : typeof q.limit === 'string' && /^\d{1,6}$/.test(q.limit) ? Number(q.limit) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE) throw domainErrors.validation(`'limit' must be an integer between 1 and ${MAX_PAGE}; got ${JSON.stringify(q.limit)}`, { field: 'limit' });
    limit = n;
  }
  let adapterVersion: string | undefined;
  if (present(q.adapterVersion)) {
    if (typeof q.adapterVersion !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(q.adapterVersion)) {
      throw domainErrors.validation(`'adapterVersion' must be "adapter@vN"; got ${JSON.stringify(q.adapterVersion)}`, { field: 'adapterVersion' });
    }
    adapterVersion = q.adapterVersion;
  }
  return {
    ...(present(q.kind) ? { kind: parseKind(q.kind) } : {}),
    ...(present(q.name) ? { name: parseName(q.name) } : {}),
    ...(present(q.baseModel) ? { baseModel: parseName(q.baseModel, 'baseModel') } : {}),
    ...(adapterVersion !== undefined ? { adapterVersion } : {}),
    limit,
    ...(present(q.cursor) ? { cursor: decodeCursor(q.cursor) } : {}),
  };
}

/** Cursors are opaque to clients: base64url of "<createdAt ISO>|<id>" of the last item served. */
export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(value: unknown): { createdAt: Date; id: string } {
  const text = typeof value === 'string' ? Buffer.from(value, 'base64url').toString('utf8') : '';
  const [at, id] = text.split('|');
  const createdAt = new Date(at ?? '');
  if (!id || Number.isNaN(createdAt.getTime())) throw domainErrors.validation(`'cursor' ${JSON.stringify(value)} is not a cursor this API returned`, { field: 'cursor' });
  return { createdAt, id };
}
