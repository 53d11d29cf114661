import { AsyncLocalStorage } from 'node:async_hooks';

/** Per-request state every log line picks up without threading it through calls. */
export interface RequestContext {
  requestId: string;
}

export const requestContext = new AsyncLocalStorage<RequestContext>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}
