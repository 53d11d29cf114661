import { domainErrors } from '../common';

/** The text fields of POST /api/v1/datasets (multipart, with the JSONL as file part `file`). */
export interface DatasetUploadInput {
  readonly name: string;
  /** Share of examples held out for eval, in [0, 0.5] (the job payload's limit). */
  readonly evalFraction: number;
}

export const DATASET_FILE_FIELD = 'file';
const KNOWN_FIELDS = new Set(['name', 'evalFraction']);
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,199}$/;
export const DEFAULT_EVAL_FRACTION = 0.1;

/** Validates the fields, naming every bad one; `fallbackName` is used when no name is sent (the file name). */
export function parseDatasetUploadFields(fields: ReadonlyMap<string, string>, fallbackName: string): DatasetUploadInput {
  const problems: string[] = [];
  for (const key of fields.keys()) if (!KNOWN_FIELDS.has(key)) problems.push(`unexpected field '${key}' (expected ${[...KNOWN_FIELDS].join(', ')})`);
  const name = fields.get('name') ?? fallbackName.replace(/\.jsonl?$/i, '').replace(/[^A-Za-z0-9 ._-]/g, '_').slice(0, 200);
  if (!NAME.test(name)) problems.push(`name must be 1–200 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit, got ${JSON.stringify(name)}`);
  const evalFraction = parseEvalFraction(fields.get('evalFraction'), problems);
  if (problems.length > 0) throw domainErrors.validation(problems.join('; '), { problems });
  return { name, evalFraction };
}

export function parseEvalFraction(raw: string | number | undefined, problems: string[]): number {
  if (raw === undefined || raw === '') return DEFAULT_EVAL_FRACTION;
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 0.5) {
    problems.push(`evalFraction must be a number in [0, 0.5], got ${JSON.stringify(raw)}`);
    return DEFAULT_EVAL_FRACTION;
  }
  return value;
}
