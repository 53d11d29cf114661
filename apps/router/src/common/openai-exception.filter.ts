import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { toOpenAiError } from './openai-error';

/** Every error leaves the router in OpenAI's shape: {error: {message, type, param, code}}. */
@Catch()
export class OpenAiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('router');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const mapped = toOpenAiError(exception);
    if (!mapped.expected) this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
    if (res.headersSent) {
      // A stream already started: the SSE writer reports the error itself; just end the response.
      res.end();
      return;
    }
    if (mapped.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(mapped.retryAfterSeconds));
    res.statusCode = mapped.status;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(mapped.body));
  }
}
