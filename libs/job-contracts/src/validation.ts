/**
 * A small typed validator: schemas are values that check an unknown input, collect EVERY problem
 * with the path of the field it concerns (not just the first), and return the typed value with
 * defaults filled in. Deliberately tiny (no dependencies) because producers and consumers in
 * every service load it; it covers exactly the shapes job payloads use.
 */

export interface ValidationIssue {
  /** Dotted path of the offending field, e.g. `hyperparameters.lora.r` (`` for the root). */
  readonly path: string;
  readonly message: string;
}

export type ValidationResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

/**
 * A schema checks `value` at `path`, pushes issues, and returns the typed value (undefined when
 * invalid). `I` is what a producer may send (defaulted fields optional); `T` what comes out.
 */
export interface Schema<T, I = T> {
  check(value: unknown, path: string, issues: ValidationIssue[]): T | undefined;
  /** A short description of what the schema accepts, used in messages. */
  readonly expected: string;
  /** Phantom: the input type. Never set at run time. */
  readonly _input?: I;
}

/** The typed output of a schema (defaults applied). */
export type Infer<S> = S extends Schema<infer T, unknown> ? T : never;
/** What a producer may send for a schema (defaulted fields optional). */
export type InferInput<S> = S extends Schema<unknown, infer I> ? I : never;

export function validate<T, I>(schema: Schema<T, I>, value: unknown): ValidationResult<T> {
  const issues: ValidationIssue[] = [];
  const out = schema.check(value, '', issues);
  if (issues.length > 0 || out === undefined) return { ok: false, issues: issues.length > 0 ? issues : [{ path: '', message: `expected ${schema.expected}` }] };
  return { ok: true, value: out };
}

/** One line per issue: `path: message`. */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path === '' ? '(root)' : i.path}: ${i.message}`).join('; ');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return `${value}`;
  return `a ${typeof value}`;
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

export interface StringRules {
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: RegExp;
  /** Said in the message when the pattern does not match. */
  readonly patternName?: string;
}

export function string(rules: StringRules = {}): Schema<string> {
  const expected = rules.patternName ?? 'a string';
  return {
    expected,
    check(value, path, issues) {
      if (typeof value !== 'string') {
        issues.push({ path, message: `expected ${expected}, got ${describe(value)}` });
        return undefined;
      }
      const before = issues.length;
      if (rules.minLength !== undefined && value.length < rules.minLength) issues.push({ path, message: `must have at least ${rules.minLength} character(s)` });
      if (rules.maxLength !== undefined && value.length > rules.maxLength) issues.push({ path, message: `must have at most ${rules.maxLength} characters, got ${value.length}` });
      if (rules.pattern !== undefined && !rules.pattern.test(value)) issues.push({ path, message: `expected ${expected}, got ${describe(value)}` });
      return issues.length === before ? value : undefined;
    },
  };
}

export interface NumberRules {
  readonly integer?: boolean;
  /** Inclusive bounds. */
  readonly min?: number;
  readonly max?: number;
  /** Exclusive lower bound (e.g. a learning rate must be > 0). */
  readonly greaterThan?: number;
}

export function number(rules: NumberRules = {}): Schema<number> {
  const expected = rules.integer ? 'an integer' : 'a number';
  return {
    expected,
    check(value, path, issues) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        issues.push({ path, message: `expected ${expected}, got ${describe(value)}` });
        return undefined;
      }
      const before = issues.length;
      if (rules.integer && !Number.isInteger(value)) issues.push({ path, message: `expected an integer, got ${value}` });
      if (rules.min !== undefined && value < rules.min) issues.push({ path, message: `must be ≥ ${rules.min}, got ${value}` });
      if (rules.max !== undefined && value > rules.max) issues.push({ path, message: `must be ≤ ${rules.max}, got ${value}` });
      if (rules.greaterThan !== undefined && !(value > rules.greaterThan)) issues.push({ path, message: `must be > ${rules.greaterThan}, got ${value}` });
      return issues.length === before ? value : undefined;
    },
  };
}

export function boolean(): Schema<boolean> {
  return {
    expected: 'a boolean',
    check(value, path, issues) {
      if (typeof value !== 'boolean') {
        issues.push({ path, message: `expected a boolean, got ${describe(value)}` });
        return undefined;
      }
      return value;
    },
  };
}

export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return {
    expected,
    check(value, path, issues) {
      if (typeof value !== 'string' || !values.includes(value)) {
        issues.push({ path, message: `expected ${expected}, got ${describe(value)}` });
        return undefined;
      }
      return value as T[number];
    },
  };
}

export interface ArrayRules {
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly unique?: boolean;
}

export function arrayOf<T>(item: Schema<T>, rules: ArrayRules = {}): Schema<T[]> {
  const expected = `an array of ${item.expected}`;
  return {
    expected,
    check(value, path, issues) {
      if (!Array.isArray(value)) {
        issues.push({ path, message: `expected ${expected}, got ${describe(value)}` });
        return undefined;
      }
      const before = issues.length;
      if (rules.minItems !== undefined && value.length < rules.minItems) issues.push({ path, message: `must have at least ${rules.minItems} item(s), got ${value.length}` });
      if (rules.maxItems !== undefined && value.length > rules.maxItems) issues.push({ path, message: `must have at most ${rules.maxItems} items, got ${value.length}` });
      const out = value.map((v, i) => item.check(v, join(path, i), issues));
      if (rules.unique && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) issues.push({ path, message: 'items must be unique' });
      return issues.length === before ? (out as T[]) : undefined;
    },
  };
}

/** Either the literal string `literal` or a value of `schema` (e.g. `'all-linear' | LinearModule[]`). */
export function literalOr<const L extends string, T>(literal: L, schema: Schema<T>): Schema<L | T> {
  const expected = `${JSON.stringify(literal)} or ${schema.expected}`;
  return {
    expected,
    check(value, path, issues) {
      if (value === literal) return literal;
      const inner: ValidationIssue[] = [];
      const out = schema.check(value, path, inner);
      if (inner.length > 0) {
        // A wrong string is better explained by the whole alternative; a wrong array by its items.
        if (typeof value === 'string') issues.push({ path, message: `expected ${expected}, got ${describe(value)}` });
        else issues.push(...inner);
        return undefined;
      }
      return out;
    },
  };
}

/** A field of an object schema: required, optional (absent stays absent) or defaulted. */
export interface Field<T, I, Mode extends 'required' | 'optional' | 'default'> {
  readonly schema: Schema<T, I>;
  readonly mode: Mode;
  /** For 'default': the value an absent field gets (run through the schema when `fromEmpty`). */
  readonly fallback?: () => unknown;
}

export function required<T, I>(schema: Schema<T, I>): Field<T, I, 'required'> {
  return { schema, mode: 'required' };
}

export function optional<T, I>(schema: Schema<T, I>): Field<T, I, 'optional'> {
  return { schema, mode: 'optional' };
}

/** Absent (or undefined) → a copy of `fallback`; present → checked. */
export function withDefault<T, I>(schema: Schema<T, I>, fallback: T): Field<T, I, 'default'> {
  return { schema, mode: 'default', fallback: () => structuredClone(fallback) };
}

/** A nested object whose fields all have defaults: absent → the schema applied to `{}`. */
export function nested<T, I>(schema: Schema<T, I>): Field<T, I, 'default'> {
  return { schema, mode: 'default', fallback: () => ({}) };
}

type AnyField = Field<unknown, unknown, 'required' | 'optional' | 'default'>;
type Fields = Record<string, AnyField>;
type KeysWithMode<F extends Fields, M> = { [K in keyof F]: F[K]['mode'] extends M ? K : never }[keyof F];
type OutOf<F> = F extends Field<infer T, unknown, 'required' | 'optional' | 'default'> ? T : never;
type InOf<F> = F extends Field<unknown, infer I, 'required' | 'optional' | 'default'> ? I : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The object a field map produces: optional fields become `?:` properties, defaulted ones are present. */
export type ObjectOf<F extends Fields> = Simplify<
  { readonly [K in Exclude<keyof F, KeysWithMode<F, 'optional'>>]: OutOf<F[K]> } & { readonly [K in KeysWithMode<F, 'optional'>]?: OutOf<F[K]> }
>;
/** What a producer may send: only required fields are required. */
export type InputOf<F extends Fields> = Simplify<
  { readonly [K in KeysWithMode<F, 'required'>]: InOf<F[K]> } & { readonly [K in Exclude<keyof F, KeysWithMode<F, 'required'>>]?: InOf<F[K]> }
>;

export interface ObjectRules {
  /** Reject keys not in the field map (default true: a typo in a hyperparameter must not be ignored silently). */
  readonly strict?: boolean;
}

export function object<F extends Fields>(fields: F, rules: ObjectRules = {}): Schema<ObjectOf<F>, InputOf<F>> {
  const strict = rules.strict ?? true;
  return {
    expected: 'an object',
    check(value, path, issues) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        issues.push({ path, message: `expected an object, got ${describe(value)}` });
        return undefined;
      }
      const rec = value as Record<string, unknown>;
      const before = issues.length;
      const out: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(fields)) {
        let v = rec[key];
        if (v === undefined) {
          if (field.mode === 'required') issues.push({ path: join(path, key), message: `is required (${field.schema.expected})` });
          if (field.mode !== 'default' || field.fallback === undefined) continue;
          v = field.fallback();
        }
        const checked = field.schema.check(v, join(path, key), issues);
        if (checked !== undefined) out[key] = checked;
      }
      if (strict) {
        for (const key of Object.keys(rec)) if (!(key in fields)) issues.push({ path: join(path, key), message: `unknown field (known: ${Object.keys(fields).join(', ')})` });
      }
      return issues.length === before ? (out as ObjectOf<F>) : undefined;
    },
  };
}

export interface RecordRules {
  readonly keyPattern?: RegExp;
  readonly keyPatternName?: string;
  readonly minEntries?: number;
  readonly requiredKeys?: readonly string[];
}

/** An object used as a map with string keys (e.g. file name → blob address). */
export function recordOf<T>(item: Schema<T>, rules: RecordRules = {}): Schema<Record<string, T>> {
  const expected = `an object of ${item.expected}`;
  return {
    expected,
    check(value, path, issues) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        issues.push({ path, message: `expected ${expected}, got ${describe(value)}` });
        return undefined;
      }
      const before = issues.length;
      const entries = Object.entries(value as Record<string, unknown>);
      if (rules.minEntries !== undefined && entries.length < rules.minEntries) issues.push({ path, message: `must have at least ${rules.minEntries} entr${rules.minEntries === 1 ? 'y' : 'ies'}` });
      for (const key of rules.requiredKeys ?? []) {
        if (!(key in (value as Record<string, unknown>))) issues.push({ path: join(path, key), message: `is required (${item.expected})` });
      }
      const out: Record<string, T> = {};
      for (const [key, v] of entries) {
        if (rules.keyPattern !== undefined && !rules.keyPattern.test(key)) {
          issues.push({ path: join(path, key), message: `key must be ${rules.keyPatternName ?? rules.keyPattern.source}` });
          continue;
        }
        const checked = item.check(v, join(path, key), issues);
        if (checked !== undefined) out[key] = checked;
      }
      return issues.length === before ? out : undefined;
    },
  };
}
