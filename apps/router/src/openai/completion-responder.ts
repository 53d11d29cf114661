import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { toOpenAiError } from '../common/openai-error';
import type { CompletionRequest } from './completion-request';
import type { GenerationResult, InferenceService, PreparedGeneration, Routing } from './inference.service';

export type CompletionKind = 'text' | 'chat';

interface Envelope {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

/** OpenAI's finish_reason (a cancelled request has no reader; 'stop' keeps the field valid). */
function finishReason(result: GenerationResult): 'stop' | 'length' {
  return result.finishReason === 'length' ? 'length' : 'stop';
}

function usage(result: GenerationResult): Record<string, number> {
  return { prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens, total_tokens: result.promptTokens + result.completionTokens };
}

function completionBody(kind: CompletionKind, env: Envelope, result: GenerationResult, routing: Routing): Record<string, unknown> {
  const choice =
    kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: result.text }, finish_reason: finishReason(result), logprobs: null }
      : { index: 0, text: result.text, finish_reason: finishReason(result), logprobs: null };
  return { id: env.id, object: kind === 'chat' ? 'chat.completion' : 'text_completion', created: env.created, model: env.model, choices: [choice], usage: usage(result), routing };
}

function chunkBody(kind: CompletionKind, env: Envelope, routing: Routing, delta: { text?: string; role?: boolean }, finish: 'stop' | 'length' | null): Record<string, unknown> {
  const choice =
    kind === 'chat'
      ? { index: 0, delta: { ...(delta.role ? { role: 'assistant' } : {}), ...(delta.text !== undefined ? { content: delta.text } : {}) }, finish_reason: finish, logprobs: null }
      : { index: 0, text: delta.text ?? '', finish_reason: finish, logprobs: null };
  return { id: env.id, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: env.created, model: env.model, choices: [choice], routing };
}

/**
 * Serves one completion over HTTP: JSON, or Server-Sent Events in OpenAI's chunk format ending
 * with `data: [DONE]`. Errors before the first byte propagate (the exception filter shapes them);
 * errors after it are sent as a final `data: {"error": …}` event. A client that disconnects
 * cancels its row in the batch.
 */
export async function respondToCompletion(
  inference: InferenceService,
  kind: CompletionKind,
  request: CompletionRequest,
  res: ServerResponse,
): Promise<void> {
  const prepared: PreparedGeneration = await inference.prepare(request);
  const env: Envelope = {
    id: `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID().replace(/-/g, '')}`,
    created: Math.floor(Date.now() / 1000),
    model: request.model ?? prepared.served.name,
  };
  const abort = new AbortController();
  const onClose = (): void => {
    if (!res.writableEnded) abort.abort();
  };
  res.on('close', onClose);
  res.setHeader('x-adapter-id', prepared.adapterHeader);
  try {
    if (!request.stream) {
      const result = await inference.generate(prepared, request, undefined, abort.signal);
      writeJson(res, 200, completionBody(kind, env, result, result.routing ?? prepared.routing));
      return;
    }
    res.statusCode = 200;
    res.setHeader('content-type', 'text/event-stream; charset=utf-8');
    res.setHeader('cache-control', 'no-cache');
    res.setHeader('connection', 'keep-alive');
    res.flushHeaders();
    const send = (data: unknown): void => void res.write(`data: ${JSON.stringify(data)}\n\n`);
    if (kind === 'chat') send(chunkBody(kind, env, prepared.routing, { role: true, text: '' }, null));
    try {
      const result = await inference.generate(prepared, request, (text) => send(chunkBody(kind, env, prepared.routing, { text }, null)), abort.signal);
      send(chunkBody(kind, env, result.routing ?? prepared.routing, {}, finishReason(result)));
      if (request.includeUsageInStream) send({ id: env.id, object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created: env.created, model: env.model, choices: [], usage: usage(result) });
    } catch (error) {
      send(toOpenAiError(error).body);
    }
    res.end('data: [DONE]\n\n');
  } finally {
    res.off('close', onClose);
    prepared.release();
  }
}

export function writeJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
}
