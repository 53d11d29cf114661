/** What went wrong, as OpenAI-compatible clients see it: an HTTP status, an error type and a code. */
export type RouterErrorCode =
  | 'invalid_request'
  | 'model_not_found'
  | 'adapter_not_found'
  | 'adapter_incompatible'
  | 'router_incompatible'
  | 'queue_full'
  | 'registry_unavailable'
  | 'unauthenticated'
  | 'not_ready';

const STATUS: Record<RouterErrorCode, number> = {
  invalid_request: 400,
  model_not_found: 404,
  adapter_not_found: 404,
  adapter_incompatible: 400,
  router_incompatible: 400,
  queue_full: 429,
  registry_unavailable: 502,
  unauthenticated: 401,
  not_ready: 503,
};

/** OpenAI's `error.type` for each code. */
const TYPE: Record<RouterErrorCode, string> = {
  invalid_request: 'invalid_request_error',
  model_not_found: 'invalid_request_error',
  adapter_not_found: 'invalid_request_error',
  adapter_incompatible: 'invalid_request_error',
  router_incompatible: 'invalid_request_error',
  queue_full: 'rate_limit_error',
  registry_unavailable: 'api_error',
  unauthenticated: 'authentication_error',
  not_ready: 'api_error',
};

/** Every error the router raises on purpose. `param` names the request field at fault, when one is. */
export class RouterError extends Error {
  constructor(
    readonly code: RouterErrorCode,
    message: string,
    readonly param: string | null = null,
    /** Seconds a client should wait before retrying (429, 503). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'RouterError';
  }

  get status(): number {
    return STATUS[this.code];
  }

  get type(): string {
    return TYPE[this.code];
  }
}

export const routerErrors = {
  invalid: (message: string, param: string | null = null): RouterError => new RouterError('invalid_request', message, param),
  modelNotFound: (model: string): RouterError => new RouterError('model_not_found', `The model '${model}' does not exist`, 'model'),
  adapterNotFound: (adapter: string, param = 'model'): RouterError => new RouterError('adapter_not_found', `The adapter '${adapter}' does not exist`, param),
  adapterIncompatible: (adapter: string, adapterBase: string, base: string, param = 'model'): RouterError =>
    new RouterError('adapter_incompatible', `The adapter '${adapter}' was built for base model '${adapterBase}', not '${base}'`, param),
  routerIncompatible: (router: string, routerBase: string, base: string, param = 'model'): RouterError =>
    new RouterError('router_incompatible', `The router '${router}' was trained for base model '${routerBase}', not '${base}'`, param),
  queueFull: (depth: number, retryAfterSeconds: number): RouterError =>
    new RouterError('queue_full', `The server is at capacity (${depth} requests waiting); retry after ${retryAfterSeconds} s`, null, retryAfterSeconds),
  registryUnavailable: (what: string): RouterError => new RouterError('registry_unavailable', `The adapter registry could not be reached: ${what}`),
} as const;
