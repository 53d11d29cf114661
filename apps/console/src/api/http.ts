/**
 * The one place that talks HTTP to registry-api: adds the API key, parses the error envelope
 * ({error: {code, message, details}}) into ApiError, and JSON-decodes answers.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Validation failures list one entry per bad field. */
    readonly problems: readonly string[] = [],
    /** The request field the server blamed (catalog errors carry details.field). */
    readonly field?: string,
    /** The error's `details` as sent (e.g. a 404's `{baseModel: "x"}` names the field it looked up). */
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly query?: Record<string, string | number | boolean | undefined>;
  /** JSON-encoded unless it is FormData. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly signal?: AbortSignal;
}

/** Base path of the APIs: the console is served by the same registry, so it is same-origin. */
export const API_ORIGIN = '';

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) if (value !== undefined && value !== '') params.set(name, String(value));
  const qs = params.toString();
  return `${API_ORIGIN}${path}${qs ? `?${qs}` : ''}`;
}

/** Sends a request and returns the raw Response after turning non-2xx answers into ApiError. */
export async function send(key: string | undefined, path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (key) headers.authorization = `Bearer ${key}`;
  let body: BodyInit | undefined;
  if (options.body instanceof FormData) body = options.body;
  else if (options.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  let res: Response;
  try {
    res = await fetch(buildUrl(path, options.query), { method: options.method ?? 'GET', headers, body, signal: options.signal });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'NETWORK', `The server could not be reached (${error instanceof Error ? error.message : String(error)}).`);
  }
  if (!res.ok) throw await toApiError(res);
  return res;
}

export async function requestJson<T>(key: string | undefined, path: string, options: RequestOptions = {}): Promise<T> {
  const res = await send(key, path, options);
  return (await res.json()) as T;
}

/** Registry errors are {error: {code, message, details}}; the router's are OpenAI's {error: {message, type, code, param}}. */
async function toApiError(res: Response): Promise<ApiError> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : undefined;
  const message = typeof error?.message === 'string' ? error.message : text.trim() || `${res.status} ${res.statusText}`;
  const code = typeof error?.code === 'string' ? error.code : `HTTP_${res.status}`;
  const details = isRecord(error?.details) ? error.details : undefined;
  // Shape checks list `problems` ("field.path: what is wrong"); payload schema checks list `issues` ({path, message}).
  const problems = [
    ...(Array.isArray(details?.problems) ? details.problems.filter((p): p is string => typeof p === 'string') : []),
    ...(Array.isArray(details?.issues) ? details.issues.filter(isRecord).map((i) => (typeof i.path === 'string' && i.path !== '' ? `${i.path}: ${String(i.message)}` : String(i.message))) : []),
  ];
  const field = typeof details?.field === 'string' ? details.field : undefined;
  return new ApiError(res.status, code, message, problems, field, details ?? {});
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A message fit for an alert: what failed and why. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}
