/**
 * PEFT LoRA adapter_config.json: a strict, table-driven schema, serialisation that keeps
 * unknown keys, and PEFT's rules for which modules an adapter targets and with what rank,
 * alpha and scaling.
 *
 * Matching follows PEFT's check_target_module_exists / get_pattern_key:
 * - target_modules as a string is a regex that must match the whole module path, except the
 *   special value "all-linear" (every linear projection, never lm_head);
 * - as a list, an entry matches the path exactly or as a dotted suffix;
 * - layers_to_transform keeps only modules whose layer index (found with layers_pattern,
 *   default `.*\.<anything>\.(\d+)\.`) is listed;
 * - rank_pattern / alpha_pattern keys match when `(.*\.)?(key)$` matches the path; the first
 *   matching key in insertion order wins.
 * Patterns are Python regexes; they are compiled as JavaScript regexes, which agree on the
 * syntax PEFT configs use (alternation, classes, quantifiers, escapes).
 */
import { PeftCoreError } from '../errors';
import { LINEAR_MODULES } from './model-config';

export type LoraBias = 'none' | 'all' | 'lora_only';

export interface AdapterConfig {
  readonly peftType: 'LORA';
  readonly r: number;
  readonly loraAlpha: number;
  /** Module names/suffixes, a regex string, "all-linear", or null when the config has none. */
  readonly targetModules: string | readonly string[] | null;
  readonly excludeModules: string | readonly string[] | null;
  readonly loraDropout: number;
  readonly bias: LoraBias;
  readonly useRslora: boolean;
  readonly useDora: boolean;
  readonly fanInFanOut: boolean;
  readonly modulesToSave: readonly string[] | null;
  /** Normalised to a list (config.json may hold a single integer). */
  readonly layersToTransform: readonly number[] | null;
  /** Normalised to a list (config.json may hold a single string). */
  readonly layersPattern: readonly string[] | null;
  readonly rankPattern: Readonly<Record<string, number>>;
  readonly alphaPattern: Readonly<Record<string, number>>;
  readonly initLoraWeights: boolean | string;
  readonly baseModelNameOrPath: string | null;
  readonly revision: string | null;
  readonly taskType: string | null;
  readonly inferenceMode: boolean;
  /**
   * The parsed JSON object as given, unknown keys included. Serialisation starts from this
   * and overwrites only the typed fields whose value differs from what raw already says.
   */
  readonly raw: Readonly<Record<string, unknown>>;
}

type TypedKey = Exclude<keyof AdapterConfig, 'raw'>;

function fail(key: string, message: string): PeftCoreError {
  return new PeftCoreError('ADAPTER_CONFIG_INVALID', `adapter_config.json: "${key}" ${message}`);
}

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const asBoolean = (key: string, v: unknown): boolean => {
  if (typeof v !== 'boolean') throw fail(key, `must be a boolean, got ${show(v)}`);
  return v;
};
const asNullableString = (key: string, v: unknown): string | null => {
  if (v !== null && typeof v !== 'string') throw fail(key, `must be a string or null, got ${show(v)}`);
  return v;
};
const asStringList = (key: string, v: unknown): string[] => {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw fail(key, `must be a list of strings, got ${show(v)}`);
  return [...(v as string[])];
};
const asStringOrList = (key: string, v: unknown): string | string[] | null => {
  if (v === null || typeof v === 'string') return v;
  return asStringList(key, v);
};
const asNumberRecord = (key: string, v: unknown, positiveInt: boolean): Record<string, number> => {
  if (!isRecord(v)) throw fail(key, `must be an object of numbers, got ${show(v)}`);
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(v)) {
    if (typeof n !== 'number' || !Number.isFinite(n)) throw fail(key, `entry "${k}" must be a number, got ${show(n)}`);
    if (positiveInt && (!Number.isInteger(n) || n <= 0)) throw fail(key, `entry "${k}" must be a positive integer, got ${n}`);
    compilePattern(key, `^(.*\\.)?(${k})$`);
    out[k] = n;
  }
  return out;
};

interface FieldSpec {
  /** The config.json key. */
  readonly json: string;
  readonly fallback: unknown;
  readonly parse: (key: string, value: unknown) => unknown;
}

/** One row per typed field: its JSON key, default, and validator. */
const FIELDS: Record<TypedKey, FieldSpec> = {
  peftType: {
    json: 'peft_type',
    fallback: undefined,
    parse: (k, v) => {
      if (v !== 'LORA') throw fail(k, `must be "LORA", got ${show(v)}`);
      return v;
    },
  },
  r: {
    json: 'r',
    fallback: 8,
    parse: (k, v) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw fail(k, `must be a positive integer, got ${show(v)}`);
      return v;
    },
  },
  loraAlpha: {
    json: 'lora_alpha',
    fallback: 8,
    parse: (k, v) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw fail(k, `must be a number, got ${show(v)}`);
      return v;
    },
  },
  targetModules: {
    json: 'target_modules',
    fallback: null,
    parse: (k, v) => {
      const value = asStringOrList(k, v);
      if (typeof value === 'string' && value !== 'all-linear') compilePattern(k, `^(?:${value})$`);
      return value;
    },
  },
  excludeModules: {
    json: 'exclude_modules',
    fallback: null,
    parse: (k, v) => {
      const value = asStringOrList(k, v);
      if (typeof value === 'string') compilePattern(k, `^(?:${value})$`);
      return value;
    },
  },
  loraDropout: {
    json: 'lora_dropout',
    fallback: 0,
    parse: (k, v) => {
      if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw fail(k, `must be a number in [0, 1), got ${show(v)}`);
      return v;
    },
  },
  bias: {
    json: 'bias',
    fallback: 'none',
    parse: (k, v) => {
      if (v !== 'none' && v !== 'all' && v !== 'lora_only') throw fail(k, `must be "none", "all" or "lora_only", got ${show(v)}`);
      return v;
    },
  },
  useRslora: { json: 'use_rslora', fallback: false, parse: asBoolean },
  useDora: { json: 'use_dora', fallback: false, parse: asBoolean },
  fanInFanOut: { json: 'fan_in_fan_out', fallback: false, parse: asBoolean },
  modulesToSave: { json: 'modules_to_save', fallback: null, parse: (k, v) => (v === null ? null : asStringList(k, v)) },
  layersToTransform: {
    json: 'layers_to_transform',
    fallback: null,
    parse: (k, v) => {
      if (v === null) return null;
      const list = typeof v === 'number' ? [v] : v;
      if (!Array.isArray(list) || !list.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0)) {
        throw fail(k, `must be a non-negative integer or a list of them, got ${show(v)}`);
      }
      return [...(list as number[])];
    },
  },
  layersPattern: {
    json: 'layers_pattern',
    fallback: null,
    parse: (k, v) => {
      if (v === null) return null;
      const list = typeof v === 'string' ? [v] : asStringList(k, v);
      for (const p of list) compilePattern(k, `^.*\\.${p}\\.(\\d+)\\.`);
      return list;
    },
  },
  rankPattern: { json: 'rank_pattern', fallback: {}, parse: (k, v) => asNumberRecord(k, v, true) },
  alphaPattern: { json: 'alpha_pattern', fallback: {}, parse: (k, v) => asNumberRecord(k, v, false) },
  initLoraWeights: {
    json: 'init_lora_weights',
    fallback: true,
    parse: (k, v) => {
      if (typeof v !== 'boolean' && typeof v !== 'string') throw fail(k, `must be a boolean or a string, got ${show(v)}`);
      return v;
    },
  },
  baseModelNameOrPath: { json: 'base_model_name_or_path', fallback: null, parse: asNullableString },
  revision: { json: 'revision', fallback: null, parse: asNullableString },
  taskType: { json: 'task_type', fallback: null, parse: asNullableString },
  inferenceMode: { json: 'inference_mode', fallback: true, parse: asBoolean },
};

const patternCache = new Map<string, RegExp>();

function compilePattern(key: string, source: string): RegExp {
  let re = patternCache.get(source);
  if (!re) {
    try {
      re = new RegExp(source);
    } catch (e) {
      throw fail(key, `holds a pattern that does not compile: ${(e as Error).message}`);
    }
    patternCache.set(source, re);
  }
  return re;
}

/** Validates an adapter_config.json object; every problem names its field. */
export function parseAdapterConfig(json: unknown): AdapterConfig {
  if (!isRecord(json)) throw new PeftCoreError('ADAPTER_CONFIG_INVALID', 'adapter_config.json must be a JSON object');
  if (!('peft_type' in json)) throw fail('peft_type', 'is required');
  const typed: Record<string, unknown> = {};
  for (const [field, spec] of Object.entries(FIELDS)) {
    const value = json[spec.json];
    // A JSON null for a field whose default is not null means "use the default" in PEFT.
    typed[field] = value === undefined || (value === null && spec.fallback !== null) ? spec.fallback : spec.parse(spec.json, value);
  }
  return { ...(typed as Omit<AdapterConfig, 'raw'>), raw: { ...json } };
}

/** Builds a config from snake_case fields (peft_type may be omitted). */
export function createAdapterConfig(fields: Readonly<Record<string, unknown>>): AdapterConfig {
  return parseAdapterConfig({ peft_type: 'LORA', ...fields });
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeysDeep(a)) === JSON.stringify(sortKeysDeep(b));
}

function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeysDeep(value[key]);
    return out;
  }
  return value;
}

/**
 * The config as a JSON object: raw, with every typed field that differs from what raw
 * says written over it, keys sorted recursively (PEFT writes sort_keys=True).
 */
export function adapterConfigToJson(config: AdapterConfig): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config.raw };
  for (const [field, spec] of Object.entries(FIELDS) as [TypedKey, FieldSpec][]) {
    const value = config[field];
    const rawValue = config.raw[spec.json];
    const rawTyped = rawValue === undefined || (rawValue === null && spec.fallback !== null) ? spec.fallback : safeParse(spec, rawValue);
    if (deepEqual(rawTyped, value) && rawValue !== undefined) continue;
    if (rawValue === undefined && deepEqual(value, spec.fallback)) continue;
    out[spec.json] = value;
  }
  return sortKeysDeep(out) as Record<string, unknown>;
}

function safeParse(spec: FieldSpec, value: unknown): unknown {
  try {
    return spec.parse(spec.json, value);
  } catch {
    return undefined;
  }
}

/** adapter_config.json text: 2-space indent, sorted keys, trailing newline. */
export function serializeAdapterConfig(config: AdapterConfig): string {
  return JSON.stringify(adapterConfigToJson(config), null, 2) + '\n';
}

// ---- module matching ----

const DEFAULT_LAYER_INDEX = /^.*\.[^.]*\.(\d+)\./;

/** The decoder layer index in a module path, found as PEFT finds it for layers_to_transform. */
export function layerIndexOf(config: AdapterConfig, modulePath: string): number | undefined {
  const patterns = config.layersPattern && config.layersPattern.length > 0 ? config.layersPattern : null;
  const regexes = patterns ? patterns.map((p) => compilePattern('layers_pattern', `^.*\\.${p}\\.(\\d+)\\.`)) : [DEFAULT_LAYER_INDEX];
  for (const re of regexes) {
    const m = re.exec(modulePath);
    if (m) return Number(m[1]);
  }
  return undefined;
}

function matchesNameList(names: string | readonly string[], key: string, field: string): boolean {
  if (typeof names === 'string') return compilePattern(field, `^(?:${names})$`).test(key);
  return names.some((t) => key === t || key.endsWith(`.${t}`));
}

/** Whether PEFT would wrap `modulePath` (e.g. 'model.layers.0.self_attn.q_proj') with LoRA. */
export function matchesTargetModules(config: AdapterConfig, modulePath: string): boolean {
  const targets = config.targetModules;
  if (targets === null) return false;
  if (config.excludeModules !== null && matchesNameList(config.excludeModules, modulePath, 'exclude_modules')) return false;
  let found: boolean;
  if (targets === 'all-linear') {
    const name = modulePath.slice(modulePath.lastIndexOf('.') + 1);
    found = (LINEAR_MODULES as readonly string[]).includes(name);
  } else {
    found = matchesNameList(targets, modulePath, 'target_modules');
  }
  if (found && config.layersToTransform !== null) {
    const layer = layerIndexOf(config, modulePath);
    found = layer !== undefined && config.layersToTransform.includes(layer);
  }
  return found;
}

function patternValue(pattern: Readonly<Record<string, number>>, field: string, modulePath: string): number | undefined {
  for (const [key, value] of Object.entries(pattern)) {
    if (compilePattern(field, `^(.*\\.)?(${key})$`).test(modulePath)) return value;
  }
  return undefined;
}

/** r for this module after rank_pattern. */
export function rankFor(config: AdapterConfig, modulePath: string): number {
  return patternValue(config.rankPattern, 'rank_pattern', modulePath) ?? config.r;
}

/** lora_alpha for this module after alpha_pattern. */
export function alphaFor(config: AdapterConfig, modulePath: string): number {
  return patternValue(config.alphaPattern, 'alpha_pattern', modulePath) ?? config.loraAlpha;
}

/** alpha / r, or alpha / sqrt(r) with rsLoRA, with this module's patterns applied. */
export function scalingFor(config: AdapterConfig, modulePath: string): number {
  const r = rankFor(config, modulePath);
  const alpha = alphaFor(config, modulePath);
  return config.useRslora ? alpha / Math.sqrt(r) : alpha / r;
}

/** Whether modules_to_save covers this module (exact name or dotted suffix, as PEFT matches). */
export function isModuleToSave(config: AdapterConfig, modulePath: string): boolean {
  return config.modulesToSave !== null && matchesNameList(config.modulesToSave, modulePath, 'modules_to_save');
}
