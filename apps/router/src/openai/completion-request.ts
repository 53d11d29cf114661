import type { CombinationMethod } from '@palette/peft-core';
import { routerErrors } from '../common/router-error';
import { type AdapterRef, parseAdapterRef } from '../adapters/adapter-ref';

const MERGE_METHODS: readonly CombinationMethod[] = ['cat', 'linear', 'svd', 'ties', 'dare_linear', 'dare_ties'];
const MAX_STOP_SEQUENCES = 16;

export interface ChatMessageInput {
  readonly role: string;
  readonly content: string;
}

/** What to generate from: text, token ids, or chat messages (rendered with the base's chat template). */
export type PromptInput = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'tokens'; readonly ids: number[] } | { readonly kind: 'chat'; readonly messages: ChatMessageInput[] };

export interface MixtureInput {
  readonly adapters: { readonly ref: AdapterRef; readonly weight: number; readonly param: string }[];
  readonly method: CombinationMethod;
  readonly density?: number;
  readonly svdRank?: number;
  readonly majoritySign?: 'total' | 'frequency';
  readonly seed?: number;
}

/** A validated /v1/completions or /v1/chat/completions body. */
export interface CompletionRequest {
  readonly model: string | undefined;
  readonly prompt: PromptInput;
  /** undefined = as many as the context allows (chat), capped by MAX_TOKENS_LIMIT. */
  readonly maxTokens: number | undefined;
  readonly temperature: number;
  readonly topP: number;
  readonly topK: number;
  readonly seed: number;
  readonly stop: string[];
  readonly stream: boolean;
  readonly includeUsageInStream: boolean;
  /** vLLM's extension: keep generating past end-of-sequence tokens (benchmarks, fixed-length outputs). */
  readonly ignoreEos: boolean;
  readonly mixture: MixtureInput | undefined;
}

type Body = Record<string, unknown>;

function asBody(body: unknown): Body {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw routerErrors.invalid('the request body must be a JSON object');
  return body as Body;
}

function optionalNumber(body: Body, field: string, check: (v: number) => boolean, rule: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw routerErrors.invalid(`'${field}' must be ${rule}, got ${JSON.stringify(v)}`, field);
  return v;
}

function parseStop(body: Body): string[] {
  const stop = body.stop;
  if (stop === undefined || stop === null) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || list.length > MAX_STOP_SEQUENCES || list.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw routerErrors.invalid(`'stop' must be a non-empty string or up to ${MAX_STOP_SEQUENCES} non-empty strings`, 'stop');
  }
  return list as string[];
}

function parseMixture(body: Body): MixtureInput | undefined {
  const adapters = body.adapters;
  if (adapters === undefined || adapters === null) {
    if (body.merge !== undefined) throw routerErrors.invalid(`'merge' needs 'adapters'`, 'merge');
    return undefined;
  }
  if (!Array.isArray(adapters) || adapters.length === 0 || adapters.length > 64) throw routerErrors.invalid(`'adapters' must be a list of 1 to 64 {id, weight}`, 'adapters');
  const items = adapters.map((a: unknown, i) => {
    const param = `adapters[${i}]`;
    if (typeof a !== 'object' || a === null) throw routerErrors.invalid(`'${param}' must be an object {id, weight}`, param);
    const { id, weight } = a as { id?: unknown; weight?: unknown };
    if (typeof id !== 'string') throw routerErrors.invalid(`'${param}.id' must be an adapter reference (adapter[@ref])`, `${param}.id`);
    const w = weight === undefined ? 1 : weight;
    if (typeof w !== 'number' || !Number.isFinite(w)) throw routerErrors.invalid(`'${param}.weight' must be a finite number`, `${param}.weight`);
    return { ref: parseAdapterRef(id, `${param}.id`), weight: w, param: `${param}.id` };
  });
  const merge = body.merge ?? 'cat';
  if (typeof merge !== 'string' || !MERGE_METHODS.includes(merge as CombinationMethod)) {
    throw routerErrors.invalid(`'merge' must be one of ${MERGE_METHODS.join(', ')}, got ${JSON.stringify(merge)}`, 'merge');
  }
  const method = merge as CombinationMethod;
  const density = optionalNumber(body, 'density', (v) => v > 0 && v <= 1, 'in (0, 1]');
  if ((method === 'ties' || method === 'dare_linear' || method === 'dare_ties') && density === undefined) {
    throw routerErrors.invalid(`'density' is required with merge ${method}`, 'density');
  }
  const svdRank = optionalNumber(body, 'svd_rank', (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  const majority = body.majority_sign;
  if (majority !== undefined && majority !== 'total' && majority !== 'frequency') throw routerErrors.invalid(`'majority_sign' must be total or frequency`, 'majority_sign');
  const seed = optionalNumber(body, 'merge_seed', (v) => Number.isInteger(v), 'an integer');
  return {
    adapters: items,
    method,
    ...(density !== undefined ? { density } : {}),
    ...(svdRank !== undefined ? { svdRank } : {}),
    ...(majority !== undefined ? { majoritySign: majority } : {}),
    ...(seed !== undefined ? { seed } : {}),
  };
}

function parseCommon(body: Body, prompt: PromptInput, defaultMaxTokens: number | undefined): CompletionRequest {
  const model = body.model;
  if (model !== undefined && model !== null && (typeof model !== 'string' || model === '')) throw routerErrors.invalid(`'model' must be a non-empty string`, 'model');
  // Validated for their error messages only: one choice per request is all the router serves.
  optionalNumber(body, 'n', (v) => v === 1, '1 (one choice per request)');
  optionalNumber(body, 'best_of', (v) => v === 1, '1');
  if (body.echo === true) throw routerErrors.invalid(`'echo' is not supported`, 'echo');
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== false) throw routerErrors.invalid(`'logprobs' is not supported`, 'logprobs');
  const stream = parseBoolean(body, 'stream');
  const streamOptions = body.stream_options;
  const includeUsage = typeof streamOptions === 'object' && streamOptions !== null && (streamOptions as { include_usage?: unknown }).include_usage === true;
  const maxTokens = optionalNumber(body, body.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens', (v) => Number.isInteger(v) && v >= 1, 'a positive integer');
  const topK = optionalNumber(body, 'top_k', (v) => Number.isInteger(v) && v >= -1, 'an integer ≥ -1 (-1 or 0 = off)') ?? 0;
  return {
    model: typeof model === 'string' ? model : undefined,
    prompt,
    maxTokens: maxTokens ?? defaultMaxTokens,
    temperature: optionalNumber(body, 'temperature', (v) => v >= 0 && v <= 2, 'in [0, 2]') ?? 1,
    topP: optionalNumber(body, 'top_p', (v) => v > 0 && v <= 1, 'in (0, 1]') ?? 1,
    topK: topK < 0 ? 0 : topK,
    seed: optionalNumber(body, 'seed', (v) => Number.isSafeInteger(v), 'an integer') ?? randomSeed(),
    stop: parseStop(body),
    stream,
    includeUsageInStream: includeUsage,
    ignoreEos: parseBoolean(body, 'ignore_eos'),
    mixture: parseMixture(body),
  };
}

function parseBoolean(body: Body, field: string): boolean {
  const v = body[field] ?? false;
  if (typeof v !== 'boolean') throw routerErrors.invalid(`'${field}' must be a boolean`, field);
  return v;
}

/** Unseeded requests still sample reproducibly inside the row; each gets its own draw. */
function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** POST /v1/completions. OpenAI's default max_tokens is 16. */
export function parseCompletionRequest(raw: unknown): CompletionRequest {
  const body = asBody(raw);
  const prompt = body.prompt;
  let input: PromptInput;
  if (typeof prompt === 'string') input = { kind: 'text', text: prompt };
  else if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') input = { kind: 'text', text: prompt[0] };
  else if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((t) => Number.isInteger(t) && (t as number) >= 0)) input = { kind: 'tokens', ids: prompt as number[] };
  else throw routerErrors.invalid(`'prompt' must be a string, a list with one string, or a list of token ids (one prompt per request)`, 'prompt');
  return parseCommon(body, input, 16);
}

/** POST /v1/chat/completions. */
export function parseChatRequest(raw: unknown): CompletionRequest {
  const body = asBody(raw);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw routerErrors.invalid(`'messages' must be a non-empty list`, 'messages');
  const parsed = messages.map((m: unknown, i) => {
    if (typeof m !== 'object' || m === null) throw routerErrors.invalid(`'messages[${i}]' must be an object`, `messages[${i}]`);
    const { role, content } = m as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !['system', 'user', 'assistant', 'developer'].includes(role)) {
      throw routerErrors.invalid(`'messages[${i}].role' must be system, developer, user or assistant`, `messages[${i}].role`);
    }
    return { role: role === 'developer' ? 'system' : role, content: messageText(content, i) };
  });
  return parseCommon(body, { kind: 'chat', messages: parsed }, undefined);
}

function messageText(content: unknown, i: number): string {
  if (typeof content === 'string') return content;
  // OpenAI's content parts: only text parts can be served by a text model.
  if (Array.isArray(content) && content.every((p) => typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'text' && typeof (p as { text?: unknown }).text === 'string')) {
    return content.map((p) => (p as { text: string }).text).join('');
  }
  throw routerErrors.invalid(`'messages[${i}].content' must be a string or a list of text parts`, `messages[${i}].content`);
}
