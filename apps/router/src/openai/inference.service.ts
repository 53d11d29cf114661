import { Inject, Injectable } from '@nestjs/common';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { RouterError, routerErrors } from '../common/router-error';
import { parseAdapterRef, parseModelSpec } from '../adapters/adapter-ref';
import { AdapterService, type ServedAdapter } from '../adapters/adapter-service';
import { CompletionText } from '../engine/completion-text';
import type { FinishReason } from '../engine/batch-engine';
import { BaseModelService, type ServedBaseModel } from '../models/base-model-service';
import { parseAutoModel, type RouterGateStats, type RouterKind } from '@palette/peft-core';
import { AutoRoutingService } from '../auto/auto-routing.service';
import { RouterService, type ServedRouter } from '../routers/router-service';
import type { CompletionRequest, PromptInput } from './completion-request';

/**
 * Which adapters served a request and with what weights (every response carries it). For a
 * learned router (strategy meteora | flylora | xcross): `router` = name@vN, `adapters` = its
 * experts with the weight they received (MeteoRA: mean gate weight; FlyLoRA: share of the selected
 * rank activations per source task; X-Cross: the learned stream weight), measured over the
 * request, so null in streamed chunks before the last; `gate` = the full statistics.
 */
export interface Routing {
  readonly strategy: 'base' | 'explicit' | 'mixture' | 'auto' | RouterKind;
  readonly base: string;
  /** `auto`: `score` = the adapter's cosine similarity to the prompt (auto/auto-routing.service.ts). */
  readonly adapters: readonly { readonly id: string; readonly weight: number | null; readonly score?: number }[];
  /** `auto`: the embedding space searched. */
  readonly space?: string;
  readonly merge?: string;
  readonly router?: string;
  readonly gate?: GateStatistics;
}

/** Gate statistics of a routed request (RouterGateStats in the response's snake_case-free JSON). */
export type GateStatistics = Omit<RouterGateStats, 'strategy'>;

/** A request bound to its model and adapter, ready to run. Call release() when done. */
export interface PreparedGeneration {
  readonly served: ServedBaseModel;
  readonly adapter: ServedAdapter | undefined;
  /** Set when `model` named a learned router: the request runs on the router's own engine. */
  readonly router?: ServedRouter;
  readonly promptIds: number[];
  readonly maxTokens: number;
  readonly routing: Routing;
  /** Value of the x-adapter-id header: adapter ids joined by ',' ('none' for the base alone). */
  readonly adapterHeader: string;
  release(): void;
}

export interface GenerationResult {
  readonly text: string;
  readonly finishReason: Exclude<FinishReason, 'cancelled'> | 'cancelled';
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** The routing with what was measured while generating (learned routers' gate statistics). */
  readonly routing?: Routing;
}

/** End-of-turn markers that also end a chat answer when the vocabulary has them. */
const CHAT_END_TOKENS = ['<|im_end|>', '<|eot_id|>', '<|end_of_text|>', '<|endoftext|>'];

/**
 * Runs OpenAI-style requests: resolves `model` (+ explicit mixture) to a base model and a leased
 * adapter, tokenizes (chat through the base tokenizer's template), submits to the base's batching
 * engine and turns tokens back into text with stop sequences.
 */
@Injectable()
export class InferenceService {
  constructor(
    @Inject(ROUTER_CONFIG) private readonly config: RouterConfig,
    private readonly baseModels: BaseModelService,
    private readonly adapters: AdapterService,
    private readonly routers: RouterService,
    private readonly auto: AutoRoutingService,
  ) {}

  async prepare(request: CompletionRequest): Promise<PreparedGeneration> {
    const model = request.model ?? this.config.defaultBaseModel;
    if (model === undefined) throw routerErrors.invalid(`'model' is required (no DEFAULT_BASE_MODEL is configured)`, 'model');
    // `auto` / `<base>:auto`: the adapters are chosen by text retrieval (auto/).
    const autoSpec = parseAutoModel(model);
    const bound = autoSpec ? await this.auto.bind(autoSpec, request) : await this.bind(model, request);
    if ('router' in bound) return this.prepareRouted(bound.router, request);
    const { served, adapter } = bound;
    const strategy = 'routing' in bound ? bound.routing.strategy : bound.strategy;
    try {
      const promptIds = this.tokenize(served, request.prompt);
      const maxTokens = this.maxTokens(served, promptIds, request);
      const components = adapter?.components ?? [];
      const routing: Routing = 'routing' in bound ? bound.routing : {
        strategy,
        base: served.name,
        adapters: components.map((c) => ({ id: c.adapter.id, weight: c.weight })),
        ...(strategy === 'mixture' ? { merge: request.mixture!.method } : {}),
      };
      return {
        served,
        adapter,
        promptIds,
        maxTokens,
        routing,
        adapterHeader: components.length === 0 ? 'none' : components.map((c) => c.adapter.id).join(','),
        release: () => adapter?.lease.release(),
      };
    } catch (error) {
      adapter?.lease.release();
      throw error;
    }
  }

  private prepareRouted(router: ServedRouter, request: CompletionRequest): PreparedGeneration {
    const served = router.base;
    const promptIds = this.tokenize(served, request.prompt);
    const maxTokens = this.maxTokens(served, promptIds, request);
    const manifest = router.artifact.manifest;
    const stream = manifest.kind === 'xcross' ? router.artifact.tensors.get('stream_weights')!.data : undefined;
    const routing: Routing = {
      strategy: manifest.kind,
      base: served.name,
      router: router.id,
      adapters: manifest.experts.map((id, i) => ({ id: router.experts[i]?.id ?? id.replace(/@(\d+)$/, '@v$1'), weight: stream ? stream[i]! : null })),
    };
    return { served, adapter: undefined, router, promptIds, maxTokens, routing, adapterHeader: routing.adapters.map((a) => a.id).join(','), release: () => undefined };
  }

  private maxTokens(served: ServedBaseModel, promptIds: readonly number[], request: CompletionRequest): number {
    const context = served.config.maxPositionEmbeddings;
    if (promptIds.length >= context) throw routerErrors.invalid(`the prompt has ${promptIds.length} tokens; this model's context is ${context}`, 'prompt');
    const room = Math.min(context - promptIds.length, this.config.maxTokensLimit);
    const maxTokens = request.maxTokens ?? room;
    if (maxTokens > room) {
      throw routerErrors.invalid(`max_tokens ${maxTokens} is too large: ${promptIds.length} prompt tokens leave room for ${room} (context ${context}, limit ${this.config.maxTokensLimit})`, 'max_tokens');
    }
    return maxTokens;
  }

  /** Generates; `onDelta` sees text as it becomes safe to show (streaming). */
  async generate(prepared: PreparedGeneration, request: CompletionRequest, onDelta?: (delta: string) => void, signal?: AbortSignal): Promise<GenerationResult> {
    const { served } = prepared;
    const text = new CompletionText(served.tokenizer, request.stop);
    const stopTokenIds = new Set(request.ignoreEos ? [] : served.stopTokenIds);
    if (request.prompt.kind === 'chat' && !request.ignoreEos) {
      for (const t of CHAT_END_TOKENS) {
        const id = served.tokenizer.tokenToId(t);
        if (id !== undefined) stopTokenIds.add(id);
      }
    }
    const job = {
      prompt: prepared.promptIds,
      sampling: { temperature: request.temperature, topP: request.topP, topK: request.topK },
      seed: request.seed,
      maxTokens: prepared.maxTokens,
      stopTokenIds,
      onToken: (token: number) => {
        const { delta, stopped } = text.push(token);
        if (delta !== '') onDelta?.(delta);
        return stopped;
      },
      ...(signal ? { signal } : {}),
    };
    let routing: Routing | undefined;
    let outcome;
    if (prepared.router !== undefined) {
      const routed = await prepared.router.engine.submit(job);
      outcome = routed;
      routing = routedRouting(prepared.routing, routed.stats);
    } else {
      outcome = await served.engine.submit({ ...job, ...(prepared.adapter ? { lora: prepared.adapter.lease.weights } : {}) });
    }
    const rest = text.flush();
    if (rest !== '') onDelta?.(rest);
    return { text: text.text, finishReason: outcome.finishReason, promptTokens: prepared.promptIds.length, completionTokens: outcome.completionTokens, ...(routing ? { routing } : {}) };
  }

  private async bind(
    model: string,
    request: CompletionRequest,
  ): Promise<{ served: ServedBaseModel; adapter: ServedAdapter | undefined; strategy: Routing['strategy'] } | { router: ServedRouter }> {
    const spec = parseModelSpec(model);
    let served: ServedBaseModel;
    let adapter: ServedAdapter | undefined;
    if (spec.kind === 'adapter') {
      served = await this.baseModels.get(spec.base);
      // `base:name` where name is no adapter of that base may be a learned router trained on it.
      const routed = await this.adapters.acquire(served, spec.adapter, 'model').catch(async (error: unknown) => {
        const router = isNotFound(error) ? await this.routers.find(spec.adapter) : undefined;
        if (router === undefined) throw error;
        return { router: await this.routers.acquire(router, spec.base) };
      });
      if ('router' in routed) return this.noMixture(routed, request, model);
      adapter = routed;
    } else if (spec.kind === 'bare-adapter' || !(await this.baseModels.exists(spec.name))) {
      // Not a base: the name of an adapter (vLLM style, model = lora_name), served on its own base,
      // or of a learned router (served on the base it was trained for).
      const ref = spec.kind === 'bare-adapter' ? spec.adapter : parseAdapterRef(spec.name, 'model');
      const resolved = await this.adapters.resolve(ref, 'model').catch(async (error: unknown) => {
        const router = isNotFound(error) ? await this.routers.find(ref) : undefined;
        if (router !== undefined) return { router: await this.routers.acquire(router, undefined) };
        throw isNotFound(error) && spec.kind === 'name' ? routerErrors.modelNotFound(model) : error;
      });
      if ('router' in resolved) return this.noMixture(resolved, request, model);
      served = await this.baseModels.get(resolved.baseModel);
      adapter = await this.adapters.acquire(served, ref, 'model');
    } else {
      served = await this.baseModels.get(spec.name);
    }
    const mixture = request.mixture;
    if (mixture === undefined) return { served, adapter, strategy: adapter ? 'explicit' : 'base' };
    if (adapter !== undefined) {
      adapter.lease.release();
      throw routerErrors.invalid(`'adapters' needs 'model' to name a base model, not an adapter (got '${model}')`, 'adapters');
    }
    const mixed = await this.adapters.acquireMixture(served, mixture.adapters, mixture);
    return { served, adapter: mixed, strategy: 'mixture' };
  }

  /** A router decides its own mixing: an explicit `adapters` list next to it is a contradiction. */
  private noMixture(bound: { router: ServedRouter }, request: CompletionRequest, model: string): { router: ServedRouter } {
    if (request.mixture !== undefined) throw routerErrors.invalid(`'adapters' cannot be combined with the learned router '${model}'`, 'adapters');
    return bound;
  }

  private tokenize(served: ServedBaseModel, prompt: PromptInput): number[] {
    switch (prompt.kind) {
      case 'tokens':
        return prompt.ids;
      case 'text': {
        const ids = served.tokenizer.encode(prompt.text);
        if (ids.length === 0) throw routerErrors.invalid(`'prompt' must not be empty`, 'prompt');
        return ids;
      }
      case 'chat':
        // As Hugging Face's apply_chat_template(tokenize=True): the template carries its own specials.
        return served.tokenizer.encode(served.tokenizer.applyChatTemplate(prompt.messages, { addGenerationPrompt: true }), { addSpecialTokens: false });
    }
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof RouterError && error.code === 'adapter_not_found';
}

/** The prepared routing plus what the router measured: expert weights and the gate statistics. */
function routedRouting(routing: Routing, stats: RouterGateStats): Routing {
  const { strategy: _strategy, ...gate } = stats;
  const measured = stats.meanGateWeight ?? stats.blockShare ?? stats.streamWeights;
  return {
    ...routing,
    adapters: routing.adapters.map((a, i) => ({ id: a.id, weight: measured?.[i] ?? a.weight })),
    gate,
  };
}
