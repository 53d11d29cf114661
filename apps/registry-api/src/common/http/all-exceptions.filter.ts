import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import type { AppLogger } from '../logging/app-logger';
import { mapError } from '../error-mapping';

/**
 * The one HTTP exception filter: every error thrown by a controller, guard, pipe or interceptor
 * leaves as `{ "error": { code, message, details? } }` with the status mapError chose.
 * GraphQL errors are passed through untouched to the GraphQL formatter.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(private readonly logger: AppLogger) {}

  catch(exception: unknown, host: ArgumentsHost): unknown {
    if (host.getType<string>() === 'graphql') return exception;
    const res = host.switchToHttp().getResponse<ServerResponse>();
    writeError(res, exception, this.logger);
    return undefined;
  }
}

/** Also used by the Express error handler for errors raised before Nest routing (body parsing). */
export function writeError(res: ServerResponse, exception: unknown, logger: AppLogger): void {
  const mapped = mapError(exception);
  if (mapped.internal) logger.error({ err: exception, status: mapped.status }, 'request failed');
  if (res.headersSent) {
    // A streamed response failed half-way: the status is gone; cut the connection so the client sees it.
    res.destroy();
    return;
  }
  res.statusCode = mapped.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ error: mapped.body }));
}
