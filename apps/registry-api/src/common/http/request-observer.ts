import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppLogger } from '../logging/app-logger';
import { requestContext } from '../logging/request-context';
import type { MetricsService } from '../metrics/metrics.service';

/** Express's additions to the request that this middleware reads. */
interface ExpressRequest extends IncomingMessage {
  originalUrl?: string;
  baseUrl?: string;
  route?: { path?: unknown };
}

// A client's id is reused only when it is short and plain, so it cannot forge log structure.
const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * First middleware of the app: gives each request an id (the client's x-request-id when sane,
 * else a new UUID), echoes it in the response, runs the rest of the request inside its log
 * context, and on completion writes one access-log line and one histogram observation.
 */
export function requestObserver(logger: AppLogger, metrics: MetricsService) {
  return (req: ExpressRequest, res: ServerResponse, next: () => void): void => {
    const incoming = req.headers[REQUEST_ID_HEADER];
    const requestId = typeof incoming === 'string' && CLIENT_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeLabel(req);
      metrics.httpRequestDuration.observe({ route, method: req.method ?? 'UNKNOWN', status: String(res.statusCode) }, seconds);
      requestContext.run({ requestId }, () =>
        logger.info(
          { method: req.method, url: req.originalUrl ?? req.url, route, status: res.statusCode, durationMs: Math.round(seconds * 1000) },
          'request completed',
        ),
      );
    });
    requestContext.run({ requestId }, next);
  };
}

/** The matched route pattern ("/api/v1/keys/:id"), never the raw URL, to keep label cardinality bounded. */
function routeLabel(req: ExpressRequest): string {
  const pattern = req.route?.path;
  if (typeof pattern === 'string') return `${req.baseUrl ?? ''}${pattern}`;
  const url = (req.originalUrl ?? req.url ?? '').split('?')[0] ?? '';
  if (url === '/graphql') return url;
  if (url.startsWith('/api/docs')) return '/api/docs';
  return 'unmatched';
}
