/**
 * PEFT LoRA adapters in Hugging Face layout (ALGORITHMS.md "PEFT LoRA adapter"):
 * adapter_config.json + adapter_model.safetensors. Tensor keys, validation against a base
 * model, and reading/writing that reproduces the project's own files byte for byte.
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PeftCoreError } from '../errors';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import type { HostTensor } from '../tensor/host-tensor';
import {
  isModuleToSave,
  matchesTargetModules,
  parseAdapterConfig,
  rankFor,
  scalingFor,
  serializeAdapterConfig,
  type AdapterConfig,
} from './adapter-config';
import { encodeFromFloat32, isFloatDtype, type FloatDtype } from './dtype';
import type { ModelConfig } from './model-config';
import { baseModules, type BaseModule } from './model-modules';
import { readSafetensors, tensorToFloat32, writeSafetensors, type RawTensor, type SafetensorsHeader, type SafetensorsTensorInfo } from './safetensors';

export * from './adapter-config';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const ADAPTER_KEY_PREFIX = 'base_model.model.';

/**
 * What a tensor in adapter_model.safetensors is:
 * lora_A [r, in], lora_B [out, r], lora_magnitude_vector [out] (DoRA),
 * lora_embedding_A [r, vocab], lora_embedding_B [hidden, r],
 * weight (a full module weight from modules_to_save), bias (bias = all | lora_only).
 */
export type AdapterTensorKind = 'lora_A' | 'lora_B' | 'lora_magnitude_vector' | 'lora_embedding_A' | 'lora_embedding_B' | 'weight' | 'bias';

export interface AdapterTensorKey {
  /** Module path inside the base model, e.g. 'model.layers.0.self_attn.q_proj'. */
  readonly modulePath: string;
  readonly kind: AdapterTensorKind;
}

const KEY_PATTERNS: ReadonlyArray<readonly [RegExp, (m: RegExpExecArray) => AdapterTensorKind]> = [
  [/^(.+)\.(lora_A|lora_B)\.weight$/, (m) => m[2] as AdapterTensorKind],
  // PEFT >= 0.12 saves the DoRA magnitude without ".weight"; older versions with it.
  [/^(.+)\.lora_magnitude_vector(?:\.weight)?$/, () => 'lora_magnitude_vector'],
  [/^(.+)\.(lora_embedding_A|lora_embedding_B)$/, (m) => m[2] as AdapterTensorKind],
  [/^(.+)\.(weight|bias)$/, (m) => m[2] as AdapterTensorKind],
];

/** Parses 'base_model.model.<path>.lora_A.weight' and friends; null for anything else. */
export function parseAdapterTensorKey(key: string): AdapterTensorKey | null {
  if (!key.startsWith(ADAPTER_KEY_PREFIX)) return null;
  const rest = key.slice(ADAPTER_KEY_PREFIX.length);
  for (const [re, kind] of KEY_PATTERNS) {
    const m = re.exec(rest);
    if (m) {
      // A "weight" whose module is itself a LoRA sub-module (e.g. '...lora_A.default.weight') is not a PEFT saved key.
      if (/(^|\.)(lora_[A-Za-z_]+)(\.|$)/.test(m[1])) return null;
      return { modulePath: m[1], kind: kind(m) };
    }
  }
  return null;
}

/** The saved key for a module path and tensor kind (inverse of parseAdapterTensorKey). */
export function adapterTensorKey(modulePath: string, kind: AdapterTensorKind): string {
  const suffix = kind === 'lora_A' || kind === 'lora_B' ? `${kind}.weight` : kind;
  return `${ADAPTER_KEY_PREFIX}${modulePath}.${suffix}`;
}

function tensorsInvalid(message: string): PeftCoreError {
  return new PeftCoreError('ADAPTER_TENSORS_INVALID', message);
}

function incompatible(message: string): PeftCoreError {
  return new PeftCoreError('ADAPTER_INCOMPATIBLE', message);
}

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

function expectShape(name: string, info: SafetensorsTensorInfo, rankDim: number | null, rankIndex: number, other: number | null, what: string): void {
  if (info.shape.length !== 2) throw tensorsInvalid(`${name}: must be 2-D, has shape ${fmt(info.shape)}`);
  if (rankDim !== null && info.shape[rankIndex] !== rankDim) {
    throw tensorsInvalid(`${name}: shape ${fmt(info.shape)} has rank ${info.shape[rankIndex]}, config says r = ${rankDim} for this module`);
  }
  const otherIndex = 1 - rankIndex;
  if (other !== null && info.shape[otherIndex] !== other) {
    throw incompatible(`${name}: shape ${fmt(info.shape)} does not fit the base model, whose ${what} is ${other}`);
  }
}

/**
 * Checks an adapter's tensors against its config and, when `base` is given, against the base
 * model's module tree and dimensions. Throws ADAPTER_TENSORS_INVALID for an adapter that is
 * inconsistent in itself and ADAPTER_INCOMPATIBLE for one that does not fit `base`; messages
 * name the tensor.
 */
export function checkAdapterTensors(config: AdapterConfig, header: SafetensorsHeader, base?: ModelConfig): void {
  const modules: Map<string, BaseModule> | undefined = base ? new Map(baseModules(base).map((m) => [m.path, m])) : undefined;
  const kindsByModule = new Map<string, Set<AdapterTensorKind>>();

  for (const [name, info] of header.tensors) {
    const key = parseAdapterTensorKey(name);
    if (!key) throw tensorsInvalid(`${name}: not a PEFT LoRA tensor key (expected ${ADAPTER_KEY_PREFIX}<module>.lora_A.weight and the like)`);
    if (!isFloatDtype(info.dtype)) throw tensorsInvalid(`${name}: dtype ${info.dtype} is not a float type`);
    const kinds = kindsByModule.get(key.modulePath) ?? new Set<AdapterTensorKind>();
    kinds.add(key.kind);
    kindsByModule.set(key.modulePath, kinds);

    const isLora = key.kind !== 'weight' && key.kind !== 'bias';
    if (isLora && config.targetModules !== null && !matchesTargetModules(config, key.modulePath)) {
      throw tensorsInvalid(`${name}: module ${key.modulePath} is not selected by the config's target_modules/layers_to_transform`);
    }
    if (key.kind === 'lora_magnitude_vector' && !config.useDora) throw tensorsInvalid(`${name}: DoRA magnitude present but use_dora is false`);
    if (key.kind === 'weight' && !isModuleToSave(config, key.modulePath)) {
      throw tensorsInvalid(`${name}: full weight of a module that modules_to_save does not list`);
    }
    if (key.kind === 'bias' && config.bias === 'none') throw tensorsInvalid(`${name}: bias tensor present but the config says bias = "none"`);

    const r = rankFor(config, key.modulePath);
    let module: BaseModule | undefined;
    if (modules && base) {
      module = modules.get(key.modulePath);
      if (!module) {
        const layer = /(?:^|\.)layers\.(\d+)\./.exec(key.modulePath);
        if (layer && Number(layer[1]) >= base.numLayers) {
          throw incompatible(`${name}: layer ${layer[1]} does not exist, the base model has ${base.numLayers} layers`);
        }
        throw incompatible(`${name}: module ${key.modulePath} does not exist in the ${base.family} base model`);
      }
    }
    const [out, inDim] = module ? module.shape : [null, null];
    const isEmbedding = module?.kind === 'embedding';
    switch (key.kind) {
      case 'lora_A':
        if (isEmbedding) throw tensorsInvalid(`${name}: ${key.modulePath} is an embedding; PEFT names its tensors lora_embedding_A/B`);
        expectShape(name, info, r, 0, inDim, 'in-features');
        break;
      case 'lora_B':
        if (isEmbedding) throw tensorsInvalid(`${name}: ${key.modulePath} is an embedding; PEFT names its tensors lora_embedding_A/B`);
        expectShape(name, info, r, 1, out, 'out-features');
        break;
      case 'lora_embedding_A':
        if (module && !isEmbedding) throw tensorsInvalid(`${name}: ${key.modulePath} is not an embedding`);
        expectShape(name, info, r, 0, out, 'vocabulary size');
        break;
      case 'lora_embedding_B':
        if (module && !isEmbedding) throw tensorsInvalid(`${name}: ${key.modulePath} is not an embedding`);
        expectShape(name, info, r, 1, inDim, 'hidden size');
        break;
      case 'lora_magnitude_vector':
      case 'bias':
        if (info.shape.length !== 1) throw tensorsInvalid(`${name}: must be 1-D, has shape ${fmt(info.shape)}`);
        if (out !== null && info.shape[0] !== out) throw incompatible(`${name}: length ${info.shape[0]} does not match the module's ${out} out-features`);
        break;
      case 'weight':
        if (module && (info.shape.length !== 2 || info.shape[0] !== module.shape[0] || info.shape[1] !== module.shape[1])) {
          throw incompatible(`${name}: shape ${fmt(info.shape)} does not match the base module's ${fmt(module.shape)}`);
        }
        break;
    }
  }

  for (const [modulePath, kinds] of kindsByModule) {
    const pairs: Array<[AdapterTensorKind, AdapterTensorKind]> = [
      ['lora_A', 'lora_B'],
      ['lora_embedding_A', 'lora_embedding_B'],
    ];
    for (const [a, b] of pairs) {
      if (kinds.has(a) !== kinds.has(b)) {
        const [has, lacks] = kinds.has(a) ? [a, b] : [b, a];
        throw tensorsInvalid(`${adapterTensorKey(modulePath, has)}: ${has} present without ${lacks}`);
      }
    }
    if (kinds.has('lora_magnitude_vector') && !kinds.has('lora_A')) {
      throw tensorsInvalid(`${adapterTensorKey(modulePath, 'lora_magnitude_vector')}: DoRA magnitude without lora_A/lora_B`);
    }
  }

  if (base && config.targetModules !== null && config.targetModules !== 'all-linear') {
    const paths = baseModules(base).map((m) => m.path);
    const targets = typeof config.targetModules === 'string' ? [config.targetModules] : config.targetModules;
    for (const target of targets) {
      const probe = { ...config, targetModules: typeof config.targetModules === 'string' ? target : [target], layersToTransform: null, excludeModules: null };
      if (!paths.some((p) => matchesTargetModules(probe, p))) {
        throw incompatible(`target_modules entry "${target}" matches no module of the ${base.family} base model`);
      }
    }
  }
}

/** checkAdapterTensors with the base model required. */
export function validateAdapter(config: AdapterConfig, header: SafetensorsHeader, base: ModelConfig): void {
  checkAdapterTensors(config, header, base);
}

/** A PEFT adapter in memory. `tensors` is what gets written; the rest is derived from it. */
export interface PeftAdapter {
  readonly config: AdapterConfig;
  /** LoRA on linear modules, with scaling per module after rank/alpha patterns. */
  readonly weights: LoraWeights;
  /** LoRA on embeddings: A = lora_embedding_A [r, vocab], B = lora_embedding_B [hidden, r]; ΔE = scaling·(B·A)ᵀ. */
  readonly embeddings: ReadonlyMap<string, LoraModule>;
  /** Full tensors from modules_to_save and saved biases, keyed by their saved tensor key. */
  readonly fullTensors: ReadonlyMap<string, HostTensor>;
  /** Every saved tensor by key, as stored (dtype and bytes). */
  readonly tensors: ReadonlyMap<string, RawTensor>;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface PeftAdapterFiles {
  readonly configJson: string | Uint8Array;
  readonly safetensors: Uint8Array;
}

function parseConfigText(configJson: string | Uint8Array): AdapterConfig {
  const text = typeof configJson === 'string' ? configJson : new TextDecoder().decode(configJson);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new PeftCoreError('ADAPTER_CONFIG_INVALID', `adapter_config.json is not valid JSON: ${(e as Error).message}`);
  }
  return parseAdapterConfig(json);
}

function assemble(config: AdapterConfig, tensors: ReadonlyMap<string, RawTensor>, metadata: Readonly<Record<string, string>>): PeftAdapter {
  const parts = new Map<string, Partial<Record<AdapterTensorKind, HostTensor>>>();
  const fullTensors = new Map<string, HostTensor>();
  for (const [name, raw] of tensors) {
    const key = parseAdapterTensorKey(name) as AdapterTensorKey;
    const host = tensorToFloat32(raw, name);
    if (key.kind === 'weight' || key.kind === 'bias') {
      fullTensors.set(name, host);
      continue;
    }
    parts.set(key.modulePath, { ...parts.get(key.modulePath), [key.kind]: host });
  }
  const modules = new Map<string, LoraModule>();
  const embeddings = new Map<string, LoraModule>();
  for (const modulePath of [...parts.keys()].sort()) {
    const p = parts.get(modulePath) as Partial<Record<AdapterTensorKind, HostTensor>>;
    const scaling = scalingFor(config, modulePath);
    if (p.lora_A && p.lora_B) {
      modules.set(modulePath, { path: modulePath, A: p.lora_A, B: p.lora_B, scaling, ...(p.lora_magnitude_vector ? { magnitude: p.lora_magnitude_vector } : {}) });
    }
    if (p.lora_embedding_A && p.lora_embedding_B) {
      embeddings.set(modulePath, { path: modulePath, A: p.lora_embedding_A, B: p.lora_embedding_B, scaling });
    }
  }
  return { config, weights: { modules }, embeddings, fullTensors, tensors, metadata };
}

/**
 * Reads an adapter from its two files' contents. With `base`, also checks that it fits that
 * base model (validateAdapter); without, checks only its internal consistency.
 */
export function readPeftAdapter(files: PeftAdapterFiles, base?: ModelConfig): PeftAdapter {
  const config = parseConfigText(files.configJson);
  const contents = readSafetensors(files.safetensors);
  checkAdapterTensors(config, contents.header, base);
  return assemble(config, contents.tensors, contents.metadata);
}

export async function readPeftAdapterDir(dir: string, base?: ModelConfig): Promise<PeftAdapter> {
  const configPath = path.join(dir, ADAPTER_CONFIG_FILE);
  const weightsPath = path.join(dir, ADAPTER_WEIGHTS_FILE);
  const read = async (file: string): Promise<Buffer> => {
    try {
      return await fsp.readFile(file);
    } catch (e) {
      const hint = file === weightsPath ? ' (only the safetensors format is supported, not adapter_model.bin)' : '';
      throw new PeftCoreError('ADAPTER_TENSORS_INVALID', `cannot read ${file}: ${(e as Error).message}${hint}`);
    }
  };
  const configBytes = await read(configPath);
  const weightBytes = await read(weightsPath);
  return readPeftAdapter({ configJson: new Uint8Array(configBytes), safetensors: new Uint8Array(weightBytes.buffer, weightBytes.byteOffset, weightBytes.byteLength) }, base);
}

export interface WrittenPeftAdapter {
  readonly configJson: string;
  readonly safetensors: Uint8Array;
}

/** Serialises an adapter's config and stored tensors (deterministic; see writeSafetensors). */
export function writePeftAdapter(adapter: PeftAdapter): WrittenPeftAdapter {
  const tensors = [...adapter.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, data: t.data }));
  const metadata = { format: 'pt', ...adapter.metadata };
  return { configJson: serializeAdapterConfig(adapter.config), safetensors: writeSafetensors(tensors, metadata) };
}

export async function writePeftAdapterDir(dir: string, adapter: PeftAdapter): Promise<void> {
  const files = writePeftAdapter(adapter);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(path.join(dir, ADAPTER_CONFIG_FILE), files.configJson);
  await fsp.writeFile(path.join(dir, ADAPTER_WEIGHTS_FILE), files.safetensors);
}

export interface CreatePeftAdapterOptions {
  /** Storage dtype of the tensors (default F32). */
  readonly dtype?: FloatDtype;
  /** Checked against the result when given. */
  readonly base?: ModelConfig;
}

/**
 * Builds a PeftAdapter from in-memory LoRA weights and a config (e.g. after training).
 * Each module's rank and scaling must agree with what the config gives that module, so
 * that the written adapter means the same thing when PEFT loads it.
 */
export function createPeftAdapter(config: AdapterConfig, weights: LoraWeights, options: CreatePeftAdapterOptions = {}): PeftAdapter {
  const dtype = options.dtype ?? 'F32';
  const tensors = new Map<string, RawTensor>();
  const encode = (t: HostTensor): RawTensor => ({ dtype, shape: [...t.shape], data: encodeFromFloat32(dtype, t.data) });
  for (const [modulePath, module] of weights.modules) {
    if (module.path !== modulePath) throw tensorsInvalid(`module keyed "${modulePath}" says its path is "${module.path}"`);
    const expected = scalingFor(config, modulePath);
    if (Math.abs(module.scaling - expected) > 1e-6 * Math.max(1, Math.abs(expected))) {
      throw new PeftCoreError('ADAPTER_CONFIG_INVALID', `${modulePath}: weights use scaling ${module.scaling} but the config gives ${expected}`);
    }
    tensors.set(adapterTensorKey(modulePath, 'lora_A'), encode(module.A));
    tensors.set(adapterTensorKey(modulePath, 'lora_B'), encode(module.B));
    if (module.magnitude) tensors.set(adapterTensorKey(modulePath, 'lora_magnitude_vector'), encode(module.magnitude));
  }
  const metadata = { format: 'pt' };
  // Round-trip through the writer's byte form so the result is exactly what would be read back.
  const header = readSafetensors(writeSafetensors([...tensors].map(([name, t]) => ({ name, ...t })), metadata)).header;
  checkAdapterTensors(config, header, options.base);
  return assemble(config, tensors, metadata);
}
