import type { JobSubmission } from '../api/registry-client';

/**
 * The submit form of every submittable job kind, as data: its fields (ids are the request paths
 * they fill, e.g. `task.worldTask`), how the entered values become the POST /api/v1/jobs body, and
 * how a path the registry blames maps back to a field. The registry validates everything (400
 * naming each bad field); the form only refuses what it cannot send (JSON that does not parse).
 * Request shapes: apps/registry-api/src/jobs/README.md.
 */

export type FieldType = 'base' | 'dataset' | 'text' | 'number' | 'lines' | 'list' | 'json' | 'select' | 'adapter-ref' | 'world-task' | 'checkbox';

export interface KindField {
  /** The request path the field fills (dots for nesting). */
  readonly id: string;
  readonly label: string;
  readonly type: FieldType;
  readonly required?: boolean;
  readonly hint?: string;
  readonly options?: readonly string[];
  readonly placeholder?: string;
  readonly initial?: string;
  /** Spans the whole form row (text areas). */
  readonly wide?: boolean;
}

export interface JobKindForm {
  readonly kind: string;
  readonly label: string;
  readonly description: string;
  readonly fields: readonly KindField[];
  /** Payload paths the registry reports that are not a field id or its prefix (`task.seed` → `task.splitSeed`). */
  readonly aliases?: Readonly<Record<string, string>>;
  /** Rewrites the generic body (values placed at their paths) where a kind needs more than that. */
  readonly finish?: (body: Record<string, unknown>, values: Readonly<Record<string, string>>) => Record<string, unknown>;
}

/** A value the form cannot turn into a request (the registry never sees it). */
export class FieldInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'FieldInputError';
  }
}

const TRAIN_HYPERPARAMETERS = '{\n  "steps": 50,\n  "batchSize": 4,\n  "lr": 0.005,\n  "lora": { "r": 4, "alpha": 8 }\n}';
const PRETRAIN_HYPERPARAMETERS = '{\n  "steps": 100,\n  "batchSize": 4,\n  "lr": 0.001\n}';
const TRANSFER_HYPERPARAMETERS = '{\n  "candidates": 40\n}';
const ROUTER_HYPERPARAMETERS = '{\n  "steps": 200,\n  "lr": 0.01\n}';

const hyperparameters = (initial: string): KindField => ({ id: 'hyperparameters', label: 'Hyperparameters (JSON)', type: 'json', initial, wide: true, hint: 'Omitted fields take the server defaults; the job stores every value it used.' });

export const JOB_KIND_FORMS: readonly JobKindForm[] = [
  {
    kind: 'train',
    label: 'Train an adapter',
    description: 'A LoRA on a dataset, registered as a new version of the adapter.',
    fields: [
      { id: 'baseModel', label: 'Base model', type: 'base', required: true },
      { id: 'dataset.ref', label: 'Dataset', type: 'dataset', required: true },
      { id: 'adapter.name', label: 'Adapter name', type: 'text', required: true },
      { id: 'adapter.description', label: 'Description', type: 'text' },
      { id: 'adapter.tags', label: 'Tags', type: 'list', placeholder: 'task:reverse-word, lang:en' },
      { id: 'adapter.parent', label: 'Parent version', type: 'adapter-ref', placeholder: 'name@v1 (optional)' },
      { id: 'companionDiscriminator.enabled', label: 'Train a companion discriminator (Trans-LoRA)', type: 'checkbox' },
      hyperparameters(TRAIN_HYPERPARAMETERS),
    ],
    aliases: { dataset: 'dataset.ref', companionDiscriminator: 'companionDiscriminator.enabled' },
  },
  {
    kind: 'pretrain',
    label: 'Pretrain a base model',
    description: 'Continues training a base model on a text corpus; the result is registered as a new base model.',
    fields: [
      { id: 'baseModel', label: 'Initial base model', type: 'base', required: true },
      { id: 'corpus.ref', label: 'Corpus', type: 'dataset', required: true },
      { id: 'output.name', label: 'New base model name', type: 'text', required: true },
      { id: 'output.description', label: 'Description', type: 'text' },
      hyperparameters(PRETRAIN_HYPERPARAMETERS),
    ],
    aliases: { corpus: 'corpus.ref', output: 'output.name' },
  },
  {
    kind: 'evaluate',
    label: 'Evaluate on a world task',
    description: 'Exact-match accuracy of a base model, alone (its baseline) or with an adapter version, on a world task’s eval split.',
    fields: [
      { id: 'baseModel', label: 'Base model', type: 'base', required: true },
      { id: 'adapter', label: 'Adapter version', type: 'adapter-ref', placeholder: 'name@v1 — empty: the base alone' },
      { id: 'task.worldTask', label: 'World task', type: 'world-task', required: true },
      { id: 'task.examples', label: 'Examples', type: 'number', placeholder: 'server default' },
      { id: 'task.splitSeed', label: 'Split seed', type: 'number', placeholder: 'server default' },
      { id: 'task.maxNewTokens', label: 'Max new tokens', type: 'number', placeholder: 'server default' },
    ],
    // The payload renames a few of the request's fields; its issues come back under those names.
    aliases: { 'task.seed': 'task.splitSeed', maxNewTokens: 'task.maxNewTokens', task: 'task.worldTask' },
  },
  {
    kind: 'transfer',
    label: 'Transfer an adapter (Trans-LoRA)',
    description: 'Re-trains an adapter for another base from synthetic data filtered by its companion discriminator; registered as a new adapter.',
    fields: [
      { id: 'sourceBase', label: 'Source base model', type: 'base', required: true },
      { id: 'sourceAdapter', label: 'Source adapter version', type: 'adapter-ref', required: true, placeholder: 'name@v1' },
      { id: 'targetBase', label: 'Target base model', type: 'base', required: true },
      { id: 'adapter.name', label: 'New adapter name', type: 'text', required: true },
      { id: 'adapter.description', label: 'Description', type: 'text' },
      { id: 'adapter.tags', label: 'Tags', type: 'list' },
      { id: 'seeds', label: 'Seed prompts (one per line)', type: 'lines', wide: true, hint: 'A few real task prompts; or leave empty and pick a seed dataset.' },
      { id: 'seedDataset.ref', label: 'Seed dataset', type: 'dataset' },
      { id: 'seedDataset.count', label: 'Seeds taken from it', type: 'number', placeholder: '5' },
      hyperparameters(TRANSFER_HYPERPARAMETERS),
    ],
    aliases: { adapter: 'adapter.name', seedDataset: 'seedDataset.ref' },
  },
  {
    kind: 'train-router',
    label: 'Train a router',
    description: 'A learned router (MeteoRA, FlyLoRA or X-Cross) over expert adapters of one base, registered as a router artifact.',
    fields: [
      { id: 'name', label: 'Router name', type: 'text', required: true },
      { id: 'baseModel', label: 'Base model', type: 'base', required: true },
      { id: 'strategy', label: 'Strategy', type: 'select', options: ['meteora', 'flylora', 'xcross'], required: true },
      { id: 'experts', label: 'Experts (one name@ref per line)', type: 'lines', required: true, wide: true },
      { id: 'data.source', label: 'Training data', type: 'select', options: ['world', 'dataset'], required: true },
      { id: 'data.worldTasks', label: 'World tasks (one per expert, in order)', type: 'list', placeholder: 'reverse-word, add-numbers' },
      { id: 'data.dataset', label: 'Dataset ({prompt, completion, task})', type: 'dataset' },
      hyperparameters(ROUTER_HYPERPARAMETERS),
    ],
    finish: (body, values) => {
      // Only the chosen source's fields: the registry refuses a dataset with source "world".
      const data = { ...(body.data as Record<string, unknown> | undefined) };
      if (values['data.source'] === 'world') delete data.dataset;
      else delete data.worldTasks;
      return { ...body, data };
    },
  },
];

/** Kinds the console has no form for (train-retriever while it lands, future kinds): the whole body as JSON. */
export const OTHER_KIND_FORM: JobKindForm = {
  kind: 'other',
  label: 'Another kind (JSON)',
  description: 'Any other submittable kind: its name and the rest of the request as JSON (see the registry’s jobs README).',
  fields: [
    { id: 'kind', label: 'Kind', type: 'text', required: true, placeholder: 'train-retriever' },
    { id: 'spec', label: 'Request fields (JSON)', type: 'json', initial: '{\n  "baseModel": ""\n}', wide: true },
  ],
  finish: (body) => {
    const { spec, ...rest } = body;
    return { ...(spec as Record<string, unknown> | undefined), ...rest };
  },
};

export const ALL_KIND_FORMS: readonly JobKindForm[] = [...JOB_KIND_FORMS, OTHER_KIND_FORM];

export function kindForm(kind: string): JobKindForm {
  return ALL_KIND_FORMS.find((f) => f.kind === kind) ?? JOB_KIND_FORMS[0]!;
}

export function initialValues(form: JobKindForm): Record<string, string> {
  return Object.fromEntries(form.fields.map((f) => [f.id, f.initial ?? (f.type === 'select' ? (f.options?.[0] ?? '') : '')]));
}

/** The request body for what was entered: empty fields are left out (the server's defaults apply). */
export function buildSubmission(form: JobKindForm, values: Readonly<Record<string, string>>): JobSubmission {
  let body: Record<string, unknown> = {};
  for (const field of form.fields) {
    const raw = (values[field.id] ?? '').trim();
    if (raw === '' || (field.type === 'checkbox' && raw !== 'true')) continue;
    setPath(body, field.id, convert(field, raw));
  }
  if (form.finish) body = form.finish(body, values);
  return { ...body, kind: typeof body.kind === 'string' && form === OTHER_KIND_FORM ? body.kind : form.kind };
}

function convert(field: KindField, raw: string): unknown {
  switch (field.type) {
    case 'number': {
      // Sent as typed when it is not a number, so the registry's message names the field.
      const n = Number(raw);
      return Number.isFinite(n) ? n : raw;
    }
    case 'checkbox':
      return true;
    case 'lines':
      return raw.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    case 'list':
      return raw.split(',').map((l) => l.trim()).filter((l) => l !== '');
    case 'json': {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch (error) {
        throw new FieldInputError(field.id, `${field.id}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new FieldInputError(field.id, `${field.id}: expected a JSON object {…}`);
      return parsed;
    }
    default:
      return raw;
  }
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node = (node[key] = typeof next === 'object' && next !== null ? next : {}) as Record<string, unknown>;
  }
  node[keys[keys.length - 1]!] = value;
}

/**
 * The form field a request path belongs to: the field itself, the nearest field above it
 * (`hyperparameters.lora.r` → `hyperparameters`, `experts[1]` → `experts`), the kind's alias, or
 * the first field below it (`adapter` → `adapter.name`).
 */
export function fieldForPath(form: JobKindForm, path: string): string | undefined {
  if (path === '') return undefined;
  const ids = new Set(form.fields.map((f) => f.id));
  for (let p = path; p !== ''; p = parentPath(p)) {
    if (ids.has(p)) return p;
    const alias = form.aliases?.[p];
    if (alias !== undefined) return alias;
  }
  return form.fields.find((f) => f.id.startsWith(`${path}.`))?.id;
}

function parentPath(path: string): string {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut <= 0 ? '' : path.slice(0, cut);
}
