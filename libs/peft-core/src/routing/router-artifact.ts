/**
 * Router artifacts: what a trained router (MeteoRA gates, a FlyLoRA adapter, X-Cross fusion)
 * is stored as in the object store and handed to the router service.
 *
 *   router.json          the manifest: kind, base model, expert adapters (name@version),
 *                        target modules, hyperparameters, training metrics, tensor checksum
 *   router.safetensors   the trained tensors (F32), names per kind (below)
 *
 * Tensor names per kind (paths are module paths, e.g. model.layers.0.self_attn.q_proj):
 *   meteora  gate.<path>              [N, in]       N = number of experts
 *            prefix_gate.<path>       [N, V]        with hyperparameters.prefixTokens = V
 *            prefix_line_breaks       [k]           with hyperparameters.prefixLineBreaks = k: the
 *                                                   line-scope prefix's separator token ids
 *   flylora  <path>.A [r, in], <path>.B [out, r], <path>.d [r]
 *   xcross   layers.<l>.w_cat [2n(n−1), n·H] for every layer, stream_weights [n]
 *
 * Encoding is canonical (manifest keys in a fixed order, 2-space JSON, safetensors' deterministic
 * writer), so decode → encode reproduces the bytes exactly.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PeftCoreError } from '../errors';
import { readSafetensors, tensorToFloat32, writeSafetensors, type NamedRawTensor } from '../formats/safetensors';
import { hostTensor, numel, type HostTensor } from '../tensor/host-tensor';

export const ROUTER_FORMAT = 'palette-router';
export const ROUTER_FORMAT_VERSION = 1;
export const ROUTER_MANIFEST_FILE = 'router.json';
export const ROUTER_TENSORS_FILE = 'router.safetensors';

export type RouterKind = 'meteora' | 'flylora' | 'xcross';
export const ROUTER_KINDS: readonly RouterKind[] = ['meteora', 'flylora', 'xcross'];

export interface MeteoraHyperparameters {
  readonly topK: number;
  readonly temperature: number;
  /** λ of the gate loss during training. */
  readonly auxLossWeight: number;
  /** Vocabulary size of the prefix-token gate feature (meteora-wiring's `prefix`); absent = none. */
  readonly prefixTokens?: number;
  /**
   * With the prefix feature: the number of line-break token ids (tensor prefix_line_breaks) of
   * its `line` scope (meteora-prefix.ts); absent = the `sequence` scope.
   */
  readonly prefixLineBreaks?: number;
}

export interface FlyLoraHyperparameters {
  readonly rank: number;
  readonly topK: number;
  readonly alpha: number;
  /** Rank blocks each with its own top-k (1; n after merging n adapters with different A). */
  readonly blocks: number;
}

export interface XCrossHyperparameters {
  readonly streams: number;
  readonly beta: number;
  readonly gamma: number;
}

interface ManifestCommon {
  readonly format: typeof ROUTER_FORMAT;
  readonly formatVersion: number;
  /** The base model the router was trained on (name or name@version). */
  readonly baseModel: string;
  /** Expert / stream / source-task adapters as "name@version", in index order. */
  readonly experts: readonly string[];
  /** Module paths the router touches, in model order. */
  readonly targets: readonly string[];
  /** Training figures (final loss, gate accuracy, steps, ...). */
  readonly metrics: Readonly<Record<string, number>>;
  /** sha256 (hex) of router.safetensors. */
  readonly tensorsSha256: string;
}

export type RouterManifest =
  | (ManifestCommon & { readonly kind: 'meteora'; readonly hyperparameters: MeteoraHyperparameters })
  | (ManifestCommon & { readonly kind: 'flylora'; readonly hyperparameters: FlyLoraHyperparameters })
  | (ManifestCommon & { readonly kind: 'xcross'; readonly hyperparameters: XCrossHyperparameters });

/** A manifest before encoding: the format fields and the checksum are filled in by the encoder. */
export type RouterManifestInput = RouterManifest extends infer M ? (M extends RouterManifest ? Omit<M, 'format' | 'formatVersion' | 'tensorsSha256'> : never) : never;

export interface RouterArtifact {
  readonly manifest: RouterManifest;
  readonly tensors: ReadonlyMap<string, HostTensor>;
}

export interface EncodedRouterArtifact {
  /** router.json bytes (UTF-8). */
  readonly manifest: Uint8Array;
  /** router.safetensors bytes. */
  readonly tensors: Uint8Array;
}

function invalid(message: string): PeftCoreError {
  return new PeftCoreError('ROUTER_ARTIFACT_INVALID', `router artifact: ${message}`);
}

/** "name@version": both parts non-empty, no whitespace, exactly one '@'. */
export function parseExpertRef(ref: string): { name: string; version: string } {
  const m = /^([^@\s]+)@([^@\s]+)$/.exec(ref);
  if (m === null) throw invalid(`expert reference ${JSON.stringify(ref)} is not "name@version"`);
  return { name: m[1]!, version: m[2]! };
}

/** Builds an artifact from trained tensors: validates it and computes the tensor checksum. */
export function createRouterArtifact(input: RouterManifestInput, tensors: ReadonlyMap<string, HostTensor>): RouterArtifact {
  const bytes = encodeTensors(tensors);
  const manifest = { ...input, format: ROUTER_FORMAT, formatVersion: ROUTER_FORMAT_VERSION, tensorsSha256: sha256(bytes) } as RouterManifest;
  const artifact: RouterArtifact = { manifest: canonicalManifest(manifest), tensors };
  validateRouterArtifact(artifact);
  return artifact;
}

export function encodeRouterArtifact(artifact: RouterArtifact): EncodedRouterArtifact {
  validateRouterArtifact(artifact);
  const tensors = encodeTensors(artifact.tensors);
  if (sha256(tensors) !== artifact.manifest.tensorsSha256) throw invalid('tensorsSha256 does not match the tensors (were they changed after the artifact was created?)');
  const json = `${JSON.stringify(canonicalManifest(artifact.manifest), null, 2)}\n`;
  return { manifest: new TextEncoder().encode(json), tensors };
}

export function decodeRouterArtifact(encoded: EncodedRouterArtifact): RouterArtifact {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(encoded.manifest));
  } catch (e) {
    throw invalid(`${ROUTER_MANIFEST_FILE} is not valid UTF-8 JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const manifest = parseManifest(raw);
  if (sha256(encoded.tensors) !== manifest.tensorsSha256) throw invalid(`${ROUTER_TENSORS_FILE} does not match the manifest's tensorsSha256`);
  const contents = readSafetensors(encoded.tensors);
  const tensors = new Map<string, HostTensor>();
  for (const [name, t] of contents.tensors) {
    if (t.dtype !== 'F32') throw invalid(`tensor ${name} is ${t.dtype}; router tensors are F32`);
    tensors.set(name, hostTensor(t.shape, tensorToFloat32(t, name).data.slice()));
  }
  const artifact: RouterArtifact = { manifest, tensors };
  validateRouterArtifact(artifact);
  return artifact;
}

export async function writeRouterArtifact(dir: string, artifact: RouterArtifact): Promise<void> {
  const encoded = encodeRouterArtifact(artifact);
  await fsp.mkdir(dir, { recursive: true });
  // Tensors first: a reader that finds router.json can rely on the tensors being complete.
  await writeAtomically(path.join(dir, ROUTER_TENSORS_FILE), encoded.tensors);
  await writeAtomically(path.join(dir, ROUTER_MANIFEST_FILE), encoded.manifest);
}

export async function readRouterArtifact(dir: string): Promise<RouterArtifact> {
  const read = async (file: string): Promise<Uint8Array> => {
    try {
      return new Uint8Array(await fsp.readFile(path.join(dir, file)));
    } catch (e) {
      throw invalid(`cannot read ${path.join(dir, file)}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return decodeRouterArtifact({ manifest: await read(ROUTER_MANIFEST_FILE), tensors: await read(ROUTER_TENSORS_FILE) });
}

/** Checks the manifest against the tensors: names, shapes and counts per kind. Throws ROUTER_ARTIFACT_INVALID. */
export function validateRouterArtifact(artifact: RouterArtifact): void {
  const { manifest: m, tensors } = artifact;
  parseManifest(m);
  const expected = new Map<string, (shape: readonly number[]) => string | undefined>();
  const n = m.experts.length;
  const rank2 = (rows: number | undefined) => (s: readonly number[]): string | undefined =>
    s.length === 2 && (rows === undefined || s[0] === rows) && s[1]! > 0 ? undefined : `[${rows ?? 'r'}, in]`;
  if (m.kind === 'meteora') {
    if (n < 2) throw invalid(`a MeteoRA router needs at least 2 experts, got ${n}`);
    if (m.hyperparameters.topK > n) throw invalid(`topK ${m.hyperparameters.topK} exceeds the ${n} experts`);
    for (const p of m.targets) expected.set(`gate.${p}`, rank2(n));
    const V = m.hyperparameters.prefixTokens;
    if (V !== undefined) for (const p of m.targets) expected.set(`prefix_gate.${p}`, (s) => (s.length === 2 && s[0] === n && s[1] === V ? undefined : `[${n}, ${V}]`));
    const breaks = m.hyperparameters.prefixLineBreaks;
    if (breaks !== undefined) {
      if (V === undefined) throw invalid('hyperparameters.prefixLineBreaks needs prefixTokens (the line scope is a scope of the prefix feature)');
      expected.set('prefix_line_breaks', (s) => (s.length === 1 && s[0] === breaks ? undefined : `[${breaks}]`));
      const ids = tensors.get('prefix_line_breaks')?.data ?? [];
      for (const id of ids) if (!(Number.isInteger(id) && id >= 0 && id < V)) throw invalid(`prefix_line_breaks holds ${id}, not a token id below ${V}`);
    }
  } else if (m.kind === 'flylora') {
    const { rank, topK, blocks } = m.hyperparameters;
    if (rank % blocks !== 0 || topK > rank / blocks) throw invalid(`rank ${rank} with ${blocks} blocks cannot keep top-${topK} per block`);
    for (const p of m.targets) {
      expected.set(`${p}.A`, rank2(rank));
      expected.set(`${p}.B`, (s) => (s.length === 2 && s[1] === rank && s[0]! > 0 ? undefined : `[out, ${rank}]`));
      expected.set(`${p}.d`, (s) => (s.length === 1 && s[0] === rank ? undefined : `[${rank}]`));
    }
  } else {
    const streams = m.hyperparameters.streams;
    if (streams !== n) throw invalid(`X-Cross has ${streams} streams but ${n} expert adapters`);
    const layers = [...tensors.keys()].filter((k) => /^layers\.\d+\.w_cat$/.test(k)).length;
    if (layers === 0) throw invalid('X-Cross artifact has no layers.<l>.w_cat tensors');
    const pairs = streams * (streams - 1);
    for (let l = 0; l < layers; l++) {
      expected.set(`layers.${l}.w_cat`, (s) => (s.length === 2 && s[0] === 2 * pairs && s[1]! % streams === 0 ? undefined : `[${2 * pairs}, ${streams}·hidden]`));
    }
    expected.set('stream_weights', (s) => (s.length === 1 && s[0] === streams ? undefined : `[${streams}]`));
  }
  for (const [name, check] of expected) {
    const t = tensors.get(name);
    if (t === undefined) throw invalid(`${m.kind} artifact is missing tensor ${name}`);
    const want = check(t.shape);
    if (want !== undefined) throw invalid(`tensor ${name} has shape [${t.shape.join(', ')}], expected ${want}`);
    if (t.data.length !== numel(t.shape)) throw invalid(`tensor ${name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
  }
  for (const name of tensors.keys()) if (!expected.has(name)) throw invalid(`unexpected tensor ${name} in a ${m.kind} artifact`);
}

function parseManifest(raw: unknown): RouterManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('manifest is not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.format !== ROUTER_FORMAT) throw invalid(`format must be "${ROUTER_FORMAT}", got ${JSON.stringify(o.format)}`);
  if (o.formatVersion !== ROUTER_FORMAT_VERSION) throw invalid(`formatVersion ${JSON.stringify(o.formatVersion)} is not supported (this reader knows ${ROUTER_FORMAT_VERSION})`);
  if (typeof o.kind !== 'string' || !(ROUTER_KINDS as readonly string[]).includes(o.kind)) throw invalid(`kind must be one of ${ROUTER_KINDS.join(', ')}, got ${JSON.stringify(o.kind)}`);
  const str = (key: string): string => {
    const v = o[key];
    if (typeof v !== 'string' || v.length === 0) throw invalid(`${key} must be a non-empty string`);
    return v;
  };
  const strings = (key: string): string[] => {
    const v = o[key];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.length === 0)) throw invalid(`${key} must be an array of non-empty strings`);
    return v as string[];
  };
  const baseModel = str('baseModel');
  const experts = strings('experts');
  experts.forEach(parseExpertRef);
  const targets = strings('targets');
  if (new Set(targets).size !== targets.length) throw invalid('targets has duplicates');
  const tensorsSha256 = str('tensorsSha256');
  if (!/^[0-9a-f]{64}$/.test(tensorsSha256)) throw invalid('tensorsSha256 must be 64 lower-case hex digits');
  const metricsRaw = o.metrics;
  if (typeof metricsRaw !== 'object' || metricsRaw === null || Array.isArray(metricsRaw)) throw invalid('metrics must be an object of numbers');
  const metrics: Record<string, number> = {};
  for (const [k, v] of Object.entries(metricsRaw as Record<string, unknown>)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`metric ${k} must be a finite number`);
    metrics[k] = v;
  }
  const h = o.hyperparameters;
  if (typeof h !== 'object' || h === null || Array.isArray(h)) throw invalid('hyperparameters must be an object');
  const hp = h as Record<string, unknown>;
  const num = (key: string, check: (v: number) => boolean, what: string): number => {
    const v = hp[key];
    if (typeof v !== 'number' || !check(v)) throw invalid(`hyperparameters.${key} must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  const posInt = (v: number): boolean => Number.isInteger(v) && v > 0;
  const positive = (v: number): boolean => Number.isFinite(v) && v > 0;
  const finite = (v: number): boolean => Number.isFinite(v);
  const nonNeg = (v: number): boolean => Number.isFinite(v) && v >= 0;
  const common = { format: ROUTER_FORMAT, formatVersion: ROUTER_FORMAT_VERSION, baseModel, experts, targets, metrics, tensorsSha256 } as const;
  const expectKeys = (keys: readonly string[]): void => {
    const extra = Object.keys(hp).filter((k) => !keys.includes(k));
    if (extra.length > 0) throw invalid(`unknown ${o.kind} hyperparameters: ${extra.join(', ')}`);
  };
  switch (o.kind as RouterKind) {
    case 'meteora':
      expectKeys(['topK', 'temperature', 'auxLossWeight', 'prefixTokens', 'prefixLineBreaks']);
      return canonicalManifest({
        ...common,
        kind: 'meteora',
        hyperparameters: {
          topK: num('topK', posInt, 'a positive integer'),
          temperature: num('temperature', positive, 'positive'),
          auxLossWeight: num('auxLossWeight', nonNeg, 'non-negative'),
          ...(hp.prefixTokens !== undefined ? { prefixTokens: num('prefixTokens', posInt, 'a positive integer') } : {}),
          ...(hp.prefixLineBreaks !== undefined ? { prefixLineBreaks: num('prefixLineBreaks', posInt, 'a positive integer') } : {}),
        },
      });
    case 'flylora':
      expectKeys(['rank', 'topK', 'alpha', 'blocks']);
      return canonicalManifest({
        ...common,
        kind: 'flylora',
        hyperparameters: { rank: num('rank', posInt, 'a positive integer'), topK: num('topK', posInt, 'a positive integer'), alpha: num('alpha', finite, 'a number'), blocks: num('blocks', posInt, 'a positive integer') },
      });
    case 'xcross':
      expectKeys(['streams', 'beta', 'gamma']);
      return canonicalManifest({
        ...common,
        kind: 'xcross',
        hyperparameters: { streams: num('streams', (v) => Number.isInteger(v) && v >= 2, 'an integer ≥ 2'), beta: num('beta', finite, 'a number'), gamma: num('gamma', finite, 'a number') },
      });
  }
}

/** The manifest with keys in the one order the encoder writes (metrics sorted by name). */
function canonicalManifest(m: RouterManifest): RouterManifest {
  const metrics: Record<string, number> = {};
  for (const k of Object.keys(m.metrics).sort()) metrics[k] = m.metrics[k]!;
  const head = { format: m.format, formatVersion: m.formatVersion, kind: m.kind, baseModel: m.baseModel, experts: [...m.experts], targets: [...m.targets] };
  const tail = { metrics, tensorsSha256: m.tensorsSha256 };
  switch (m.kind) {
    case 'meteora': {
      const { topK, temperature, auxLossWeight, prefixTokens, prefixLineBreaks } = m.hyperparameters;
      return {
        ...head,
        kind: 'meteora',
        hyperparameters: { topK, temperature, auxLossWeight, ...(prefixTokens !== undefined ? { prefixTokens } : {}), ...(prefixLineBreaks !== undefined ? { prefixLineBreaks } : {}) },
        ...tail,
      };
    }
    case 'flylora': {
      const { rank, topK, alpha, blocks } = m.hyperparameters;
      return { ...head, kind: 'flylora', hyperparameters: { rank, topK, alpha, blocks }, ...tail };
    }
    case 'xcross': {
      const { streams, beta, gamma } = m.hyperparameters;
      return { ...head, kind: 'xcross', hyperparameters: { streams, beta, gamma }, ...tail };
    }
  }
}

function encodeTensors(tensors: ReadonlyMap<string, HostTensor>): Uint8Array {
  const list: NamedRawTensor[] = [];
  for (const [name, t] of tensors) {
    if (t.data.length !== numel(t.shape)) throw invalid(`tensor ${name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    list.push({ name, dtype: 'F32', shape: t.shape, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
  }
  return writeSafetensors(list);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.tmp`;
  await fsp.writeFile(tmp, bytes);
  await fsp.rename(tmp, file);
}
