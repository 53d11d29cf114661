import { catalogErrors } from '../catalog-errors';
import { MAX_DESCRIPTION_CHARS, optionalName, optionalText, parseTags, requireName } from '../catalog-input';

/** The text fields of POST /api/v1/adapters (multipart), validated. */
export interface AdapterUploadInput {
  readonly name: string;
  /** Base model name; may be omitted when the adapter exists or adapter_config.json names a registered base. */
  readonly baseModel?: string;
  readonly description?: string;
  readonly tags: string[];
  /** Parent adapter version, as `name@vN` / `name@alias`: lineage kind 'parent'. */
  readonly parent?: string;
  /** Trainer job id that produced the adapter: lineage kind 'job'. */
  readonly job?: string;
  /** Dataset sha256 the adapter was trained on: lineage kind 'dataset'. */
  readonly dataset?: string;
}

const KNOWN_FIELDS = new Set(['name', 'baseModel', 'description', 'tags', 'parent', 'job', 'dataset']);
const SHA256 = /^[0-9a-f]{64}$/;

export function parseAdapterUploadFields(fields: ReadonlyMap<string, string>): AdapterUploadInput {
  for (const key of fields.keys()) {
    if (!KNOWN_FIELDS.has(key)) throw catalogErrors.invalid(`unexpected field '${key}'; expected ${[...KNOWN_FIELDS].join(', ')}`, { field: key });
  }
  const dataset = fields.get('dataset') || undefined;
  if (dataset !== undefined && !SHA256.test(dataset)) throw catalogErrors.invalid(`'dataset' must be a lower-case hex sha256`, { field: 'dataset' });
  const job = optionalText(fields.get('job') || undefined, 'job', 128);
  const parent = fields.get('parent') || undefined;
  if (parent !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}@[A-Za-z0-9._-]{1,64}$/.test(parent)) {
    throw catalogErrors.invalid(`'parent' must name a version as adapter@vN or adapter@alias, got ${JSON.stringify(parent)}`, { field: 'parent' });
  }
  return {
    name: requireName(fields.get('name'), 'name'),
    baseModel: optionalName(fields.get('baseModel'), 'baseModel'),
    description: optionalText(fields.get('description'), 'description', MAX_DESCRIPTION_CHARS),
    tags: parseTags(fields.get('tags')),
    parent,
    job,
    dataset,
  };
}
