/**
 * The router's `auto` strategy (issue #6): `model: "auto"` (the default base) or `"<base>:auto"`.
 * The prompt's text goes to the registry's text → adapters search (GET /api/v1/search/adapters,
 * k ≤ 3, the request's base: the base's active embedding space, queried by the same peft-core
 * retriever code that trained it), peft-core's `routeAuto` turns the hits into softmax(cos / T)
 * weights, and the adapters are served as an exact `cat` mixture through the ordinary mixture path
 * (AdapterService.acquireMixture, cached per (adapters, weights)). The response's `routing` says what
 * was chosen: `{strategy: 'auto', adapters: [{id, weight, score}], space}`.
 *
 * Registry answers: 404 (unknown base) → model_not_found; 409 (the base has no embedding space
 * yet) → 409 with an OpenAI-shaped error saying so; anything else → registry_unavailable (502).
 */
import { Inject, Injectable } from '@nestjs/common';
import { DEFAULT_AUTO_K, DEFAULT_AUTO_TEMPERATURE, routeAuto, type AutoModelSpec, type AutoSelection, type RetrievedAdapter } from '@palette/peft-core';
import { parseAdapterRef } from '../adapters/adapter-ref';
import { AdapterService, type ServedAdapter } from '../adapters/adapter-service';
import { RouterError, routerErrors } from '../common/router-error';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { BaseModelService, type ServedBaseModel } from '../models/base-model-service';
import type { CompletionRequest, PromptInput } from '../openai/completion-request';

/** What `auto` chose, as the response's `routing` reports it. */
export interface AutoRouting {
  readonly strategy: 'auto';
  readonly base: string;
  readonly adapters: readonly { readonly id: string; readonly weight: number; readonly score: number }[];
  readonly merge: 'cat';
  /** The embedding space the registry searched. */
  readonly space: string;
}

/** The request's base has no embedding space (the registry's 409): a state of the platform, not a bad request. */
export class AutoUnavailableError extends RouterError {
  constructor(message: string) {
    super('invalid_request', message, 'model');
  }

  override get status(): number {
    return 409;
  }
}

interface SearchAnswer {
  readonly items: ReadonlyArray<{ readonly adapter: { readonly name: string }; readonly version: number | null; readonly score: number }>;
  readonly space: string | null;
}

@Injectable()
export class AutoRoutingService {
  constructor(
    @Inject(ROUTER_CONFIG) private readonly config: RouterConfig,
    private readonly baseModels: BaseModelService,
    private readonly adapters: AdapterService,
  ) {}

  /** Resolves `auto` for a request: the base, the chosen adapters' `cat` mixture (leased) and the routing report. */
  async bind(spec: AutoModelSpec, request: CompletionRequest): Promise<{ served: ServedBaseModel; adapter: ServedAdapter; routing: AutoRouting }> {
    if (request.mixture !== undefined) throw routerErrors.invalid(`'adapters' cannot be combined with model 'auto': auto chooses the adapters`, 'adapters');
    const baseName = spec.base ?? this.config.defaultBaseModel;
    if (baseName === undefined) throw routerErrors.invalid(`model 'auto' needs DEFAULT_BASE_MODEL on this router, or name the base: '<base>:auto'`, 'model');
    const served = await this.baseModels.get(baseName);
    const text = promptText(served, request.prompt);
    if (text.trim() === '') throw routerErrors.invalid(`model 'auto' needs prompt text to choose adapters by`, 'prompt');
    let space = '';
    const search = async (query: string, k: number): Promise<RetrievedAdapter[]> => {
      const answer = await this.search(query, served.name, k);
      space = answer.space ?? '';
      return answer.items.map((h) => ({ id: `${h.adapter.name}@v${h.version ?? 1}`, score: h.score }));
    };
    let selection: AutoSelection;
    try {
      selection = await routeAuto(text, search, { k: DEFAULT_AUTO_K, temperature: DEFAULT_AUTO_TEMPERATURE });
    } catch (error) {
      if (error instanceof RouterError) throw error;
      // peft-core's INVALID_ARGUMENT: the base's space holds no adapter to choose from.
      throw new AutoUnavailableError(`model 'auto' on '${served.name}': ${(error as Error).message}`);
    }
    const items = selection.adapters.map((a) => ({ ref: parseAdapterRef(a.id, 'model'), weight: a.weight, param: 'model' }));
    const adapter = await this.adapters.acquireMixture(served, items, { method: 'cat' });
    return {
      served,
      adapter,
      routing: { strategy: 'auto', base: served.name, adapters: selection.adapters.map((a) => ({ id: a.id, weight: a.weight, score: a.score })), merge: 'cat', space },
    };
  }

  private async search(q: string, baseModel: string, k: number): Promise<SearchAnswer> {
    const path = `/api/v1/search/adapters?${new URLSearchParams({ q, baseModel, k: String(k) }).toString()}`;
    let res: Response;
    try {
      res = await fetch(`${this.config.registry.url}${path}`, {
        headers: { authorization: `Bearer ${this.config.registry.apiKey}`, accept: 'application/json' },
        signal: AbortSignal.timeout(this.config.registry.timeoutMs),
      });
    } catch (error) {
      throw routerErrors.registryUnavailable(`GET /api/v1/search/adapters: ${(error as Error).message}`);
    }
    if (res.ok) return (await res.json()) as SearchAnswer;
    const message = await registryMessage(res);
    if (res.status === 404) throw routerErrors.modelNotFound(`${baseModel}:auto`);
    if (res.status === 409) throw new AutoUnavailableError(`model 'auto' is not available for base '${baseModel}': ${message}`);
    if (res.status === 400) throw routerErrors.invalid(`model 'auto': the registry refused the search: ${message}`, 'prompt');
    throw routerErrors.registryUnavailable(`GET /api/v1/search/adapters answered ${res.status}: ${message}`);
  }
}

/** The registry's error message ({error: {message}}), or the body's start. */
async function registryMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } };
    if (typeof body.error?.message === 'string') return body.error.message;
  } catch {
    // not JSON: the raw text below
  }
  return text.slice(0, 300);
}

/**
 * The text `auto` embeds: the prompt; for chat, the last user message (the request being made);
 * token prompts are decoded with the base's tokenizer.
 */
export function promptText(served: ServedBaseModel, prompt: PromptInput): string {
  switch (prompt.kind) {
    case 'text':
      return prompt.text;
    case 'tokens':
      return served.tokenizer.decode(prompt.ids, { skipSpecialTokens: true });
    case 'chat': {
      const user = [...prompt.messages].reverse().find((m) => m.role === 'user');
      return (user ?? prompt.messages[prompt.messages.length - 1])?.content ?? '';
    }
  }
}
