/**
 * The `auto` routing strategy's selection and weighting, shared by the router (which searches
 * through the registry's text → adapters route) and `npm run eval:retrieval` (which searches
 * in-process with the same Retriever): embed the prompt, take the top k ≤ 3 adapters by cosine,
 * weight them with a softmax over cosine / T, and serve them as a `cat` mixture
 * (ΔW = Σ wᵢ sᵢ BᵢAᵢ, exact; combineAdapters).
 *
 * Temperature: cosines of a trained retriever spread over roughly [-0.2, 0.8]; T = 0.05 turns a
 * lead of 0.15 into a weight ratio of e³ ≈ 20, so a clear winner gets ≈ 0.9 of the mixture and
 * near-ties share it. T → ∞ is a uniform mix of the k; T → 0 is top-1.
 */
import { PeftCoreError } from '../errors';

export const AUTO_MODEL = 'auto';
export const AUTO_MAX_K = 3;
export const DEFAULT_AUTO_K = 3;
export const DEFAULT_AUTO_TEMPERATURE = 0.05;
/** Characters of the prompt that are embedded (its end: the question being asked is last). */
export const AUTO_QUERY_MAX_CHARS = 1000;

/** `model: "auto"` (the default base) or `model: "<base>:auto"`. */
export interface AutoModelSpec {
  readonly base?: string;
}

/** The auto spec a `model` string names, or undefined when it names something else. */
export function parseAutoModel(model: string): AutoModelSpec | undefined {
  if (model === AUTO_MODEL) return {};
  const suffix = `:${AUTO_MODEL}`;
  if (model.endsWith(suffix) && model.length > suffix.length && !model.slice(0, -suffix.length).includes(':')) {
    return { base: model.slice(0, -suffix.length) };
  }
  return undefined;
}

/** One search hit: an adapter reference and its cosine similarity to the query. */
export interface RetrievedAdapter {
  readonly id: string;
  readonly score: number;
}

export interface AutoOptions {
  /** 1..3 (default 3). */
  readonly k?: number;
  /** Softmax temperature over cosine (default 0.05). */
  readonly temperature?: number;
}

export interface AutoSelection {
  readonly k: number;
  readonly temperature: number;
  /** Best first; weights sum to 1. */
  readonly adapters: readonly { readonly id: string; readonly score: number; readonly weight: number }[];
}

export function resolveAutoOptions(options: AutoOptions = {}): { k: number; temperature: number } {
  const k = options.k ?? DEFAULT_AUTO_K;
  const temperature = options.temperature ?? DEFAULT_AUTO_TEMPERATURE;
  if (!(Number.isInteger(k) && k >= 1 && k <= AUTO_MAX_K)) throw new PeftCoreError('INVALID_ARGUMENT', `auto: k must be an integer from 1 to ${AUTO_MAX_K}, got ${k}`);
  if (!(Number.isFinite(temperature) && temperature > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `auto: temperature must be a positive number, got ${temperature}`);
  return { k, temperature };
}

/** Top k hits by score (ties by id) and their softmax(score / T) weights. */
export function autoMixtureWeights(hits: readonly RetrievedAdapter[], options: AutoOptions = {}): AutoSelection {
  const { k, temperature } = resolveAutoOptions(options);
  const bad = hits.find((h) => !Number.isFinite(h.score));
  if (bad) throw new PeftCoreError('INVALID_ARGUMENT', `auto: hit ${bad.id} has a non-finite score`);
  const seen = new Set<string>();
  const top = [...hits]
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .filter((h) => (seen.has(h.id) ? false : (seen.add(h.id), true)))
    .slice(0, k);
  if (top.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'auto: the search returned no adapters');
  const max = top[0]!.score;
  const exp = top.map((h) => Math.exp((h.score - max) / temperature));
  const sum = exp.reduce((a, b) => a + b, 0);
  return { k, temperature, adapters: top.map((h, i) => ({ id: h.id, score: h.score, weight: exp[i]! / sum })) };
}

/** The text that is embedded for a prompt: trimmed, its last AUTO_QUERY_MAX_CHARS characters. */
export function autoQueryText(prompt: string): string {
  const text = prompt.trim();
  if (text.length === 0) throw new PeftCoreError('INVALID_ARGUMENT', 'auto: the prompt is empty');
  return text.length > AUTO_QUERY_MAX_CHARS ? text.slice(text.length - AUTO_QUERY_MAX_CHARS) : text;
}

/** Text → top adapters by cosine: the registry route in the router, an in-process Retriever in the eval. */
export type AutoSearch = (query: string, k: number) => Promise<readonly RetrievedAdapter[]>;

/** Embeds the prompt through `search` and weights what comes back: the whole `auto` decision. */
export async function routeAuto(prompt: string, search: AutoSearch, options: AutoOptions = {}): Promise<AutoSelection> {
  const { k, temperature } = resolveAutoOptions(options);
  return autoMixtureWeights(await search(autoQueryText(prompt), k), { k, temperature });
}
