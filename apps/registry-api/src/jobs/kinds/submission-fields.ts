/**
 * Shape parsers for the parts of a job submission several kinds share (a base model name, a
 * dataset / corpus source, an adapter registration, an `adapter@ref`). Each pushes one
 * `field.path: problem` string per problem, so a submission's 400 lists every bad field at once.
 */
import { MAX_DESCRIPTION_CHARS, MAX_TAGS, NAME_PATTERN, TAG_PATTERN } from '../../catalog/catalog-input';
import { parseEvalFraction } from '../../datasets/dataset-upload.input';

/** Where a job's JSONL comes from: an earlier upload (id or sha256), or the request's file part. */
export type DatasetSource = { readonly kind: 'existing'; readonly ref: string } | { readonly kind: 'uploaded'; readonly name: string | undefined };

/** How a result is registered as an adapter version in the catalog. */
export interface AdapterRegistration {
  readonly adapter: string;
  readonly description?: string;
  readonly tags: readonly string[];
  /** A parent version as name@vN / name@alias (lineage kind 'parent'). */
  readonly parent?: string;
}

/** `adapter@vN` / `adapter@alias` / `adapter@latest`. */
export const QUALIFIED_VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}@[A-Za-z0-9._-]{1,64}$/;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function unknownFields(rec: Readonly<Record<string, unknown>>, known: readonly string[], prefix: string, problems: string[]): void {
  for (const key of Object.keys(rec)) if (!known.includes(key)) problems.push(`${prefix}${key}: unknown field (known: ${known.join(', ')})`);
}

/** A catalog name (base model, adapter, output name). */
export function parseName(value: unknown, field: string, what: string, problems: string[]): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) problems.push(`${field}: expected ${what} (1–128 letters, digits, '.', '_' or '-'), got ${JSON.stringify(value ?? null)}`);
  return value as string;
}

export function parseOptionalDescription(value: unknown, field: string, problems: string[]): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length > MAX_DESCRIPTION_CHARS) {
    problems.push(`${field}: expected a string of at most ${MAX_DESCRIPTION_CHARS} characters`);
    return undefined;
  }
  return value;
}

/**
 * `{ref?, name?, evalFraction?}` or a bare id/sha256 string. `field` is the submission field
 * (`dataset`, `corpus`), `part` the multipart file part that may carry the JSONL instead.
 */
export function parseDatasetField(value: unknown, uploaded: boolean, problems: string[], field = 'dataset', part = 'dataset'): { dataset: DatasetSource; evalFraction: number | undefined } {
  const rec = isRecord(value) ? value : typeof value === 'string' ? { ref: value } : value === undefined ? {} : null;
  if (rec === null) {
    problems.push(`${field}: expected an object {ref?, name?, evalFraction?} or a dataset id / sha256`);
    return { dataset: { kind: 'uploaded', name: undefined }, evalFraction: undefined };
  }
  unknownFields(rec, ['ref', 'name', 'evalFraction'], `${field}.`, problems);
  let evalFraction: number | undefined;
  if (rec.evalFraction !== undefined) {
    const inner: string[] = [];
    evalFraction = typeof rec.evalFraction === 'number' ? parseEvalFraction(rec.evalFraction, inner) : (inner.push(`evalFraction must be a number in [0, 0.5], got ${JSON.stringify(rec.evalFraction)}`), undefined);
    problems.push(...inner.map((p) => `${field}.${p}`));
    if (inner.length > 0) evalFraction = undefined;
  }
  if (rec.ref !== undefined) {
    if (uploaded) problems.push(`${field}: give either ${field}.ref or a \`${part}\` file part, not both`);
    if (typeof rec.ref !== 'string' || rec.ref === '') problems.push(`${field}.ref: expected a dataset id or sha256`);
    return { dataset: { kind: 'existing', ref: String(rec.ref) }, evalFraction };
  }
  if (!uploaded) problems.push(`${field}: required: ${field}.ref (an uploaded dataset) or the JSONL as multipart file part \`${part}\``);
  if (rec.name !== undefined && typeof rec.name !== 'string') problems.push(`${field}.name: expected a string`);
  return { dataset: { kind: 'uploaded', name: rec.name as string | undefined }, evalFraction };
}

/** `{name, description?, tags?, parent?}`: the adapter a result is registered as. */
export function parseAdapterRegistration(value: unknown, problems: string[], field = 'adapter'): AdapterRegistration | undefined {
  if (!isRecord(value)) {
    problems.push(`${field}: required: {name, description?, tags?, parent?} naming the adapter the result is registered as`);
    return undefined;
  }
  unknownFields(value, ['name', 'description', 'tags', 'parent'], `${field}.`, problems);
  const name = parseName(value.name, `${field}.name`, 'an adapter name', problems);
  const description = parseOptionalDescription(value.description, `${field}.description`, problems);
  const tags = parseTags(value.tags, `${field}.tags`, problems);
  if (value.parent !== undefined && (typeof value.parent !== 'string' || !QUALIFIED_VERSION.test(value.parent))) {
    problems.push(`${field}.parent: expected adapter@vN or adapter@alias, got ${JSON.stringify(value.parent)}`);
  }
  return {
    adapter: name,
    ...(description !== undefined ? { description } : {}),
    tags,
    ...(typeof value.parent === 'string' ? { parent: value.parent } : {}),
  };
}

export function parseTags(value: unknown, field: string, problems: string[]): string[] {
  const tags: string[] = [];
  if (value === undefined) return tags;
  if (!Array.isArray(value)) {
    problems.push(`${field}: expected an array of strings`);
    return tags;
  }
  for (const t of value) {
    const tag = typeof t === 'string' ? t.trim().toLowerCase() : '';
    if (!TAG_PATTERN.test(tag)) problems.push(`${field}: ${JSON.stringify(t)} must be 1-64 characters of a-z, 0-9, '.', '_', ':' or '-'`);
    else if (!tags.includes(tag)) tags.push(tag);
  }
  if (tags.length > MAX_TAGS) problems.push(`${field}: at most ${MAX_TAGS} tags`);
  return tags;
}

/** `adapter@ref` naming one version of an adapter (`adapter` alone means its latest version). */
export function parseQualifiedAdapter(value: unknown, field: string, problems: string[]): string {
  if (typeof value !== 'string' || !(QUALIFIED_VERSION.test(value) || NAME_PATTERN.test(value))) {
    problems.push(`${field}: expected adapter@vN, adapter@alias or an adapter name, got ${JSON.stringify(value ?? null)}`);
  }
  return value as string;
}
