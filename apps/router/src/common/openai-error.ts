import { PeftCoreError } from '@palette/peft-core';
import { RouterError } from './router-error';

/** OpenAI's error body. */
export interface OpenAiErrorBody {
  readonly error: { readonly message: string; readonly type: string; readonly param: string | null; readonly code: string | null };
}

export interface MappedError {
  readonly status: number;
  readonly body: OpenAiErrorBody;
  readonly retryAfterSeconds?: number;
  /** False for errors whose message must not reach the client (unexpected failures). */
  readonly expected: boolean;
}

/** Objects thrown by Nest/Express for HTTP-level problems (bad JSON, 404 route, payload too large). */
interface HttpLike {
  getStatus(): number;
  message: string;
}

function isHttpLike(error: unknown): error is HttpLike {
  return typeof error === 'object' && error !== null && typeof (error as HttpLike).getStatus === 'function';
}

function body(message: string, type: string, param: string | null, code: string | null): OpenAiErrorBody {
  return { error: { message, type, param, code } };
}

/** The one mapping from anything thrown to an OpenAI-shaped HTTP error. */
export function toOpenAiError(error: unknown): MappedError {
  if (error instanceof RouterError) {
    return {
      status: error.status,
      body: body(error.message, error.type, error.param, error.code),
      ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
      expected: true,
    };
  }
  if (error instanceof PeftCoreError) {
    // Bad adapters or arguments that reached peft-core: the request (or the adapter it names) is at fault.
    return { status: 400, body: body(error.message, 'invalid_request_error', null, error.code.toLowerCase()), expected: true };
  }
  if (isHttpLike(error)) {
    const status = error.getStatus();
    const type = status === 404 ? 'invalid_request_error' : status >= 500 ? 'api_error' : 'invalid_request_error';
    return { status, body: body(error.message, type, null, status === 404 ? 'not_found' : null), expected: status < 500 };
  }
  return { status: 500, body: body('The server had an error while processing your request', 'api_error', null, 'internal_error'), expected: false };
}
