import { Controller, Get, Inject, Param, Post, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { RequireRole } from '../auth';
import { domainErrors } from '../common';
import { CONSOLE_OPTIONS, type ConsoleOptions } from './console-options';

/** Router routes the console may reach, by method. Admin routes (load/unload) stay off. */
const FORWARDED: Readonly<Record<'GET' | 'POST', readonly string[]>> = {
  GET: ['v1/models', 'v1/lora_adapters', 'readyz', 'healthz'],
  POST: ['v1/completions', 'v1/chat/completions'],
};
/** Router response headers the console reads. */
const PASSED_HEADERS = ['content-type', 'x-adapter-id', 'retry-after', 'cache-control'];

/**
 * Same-origin gateway from the console to the router (ROUTER_URL), so the browser needs neither
 * CORS nor the router's own key: a caller needs a registry key (reader), the router gets
 * ROUTER_API_KEY. Streams (SSE) are relayed chunk by chunk; a client that leaves aborts the call.
 */
@ApiTags('console')
@RequireRole('reader')
@Controller('api/v1/router')
export class RouterProxyController {
  constructor(@Inject(CONSOLE_OPTIONS) private readonly options: ConsoleOptions) {}

  @Get('*path')
  @ApiOperation({ summary: 'Router GET routes (v1/models, v1/lora_adapters, readyz, healthz) through the registry' })
  get(@Param('path') segments: string[] | string, @Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.forward('GET', joinPath(segments), undefined, req, res);
  }

  @Post('*path')
  @ApiOperation({ summary: 'Router completions (v1/completions, v1/chat/completions; SSE when stream is true) through the registry' })
  post(@Param('path') segments: string[] | string, @Req() req: IncomingMessage & { body?: unknown }, @Res() res: ServerResponse): Promise<void> {
    return this.forward('POST', joinPath(segments), req.body ?? {}, req, res);
  }

  private async forward(method: 'GET' | 'POST', route: string, body: unknown, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!FORWARDED[method].includes(route)) throw domainErrors.notFound('router route', `${method} ${route}`);
    const base = this.options.routerUrl;
    if (base === undefined) throw domainErrors.unavailable('no router is configured: start the registry with ROUTER_URL to use the playground');
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    let upstream: Response;
    try {
      upstream = await fetch(`${base}/${route}`, {
        method,
        signal: abort.signal,
        headers: {
          accept: req.headers.accept ?? 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.options.routerApiKey ? { authorization: `Bearer ${this.options.routerApiKey}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw domainErrors.unavailable(`the router at ${base} did not answer: ${error instanceof Error ? error.message : String(error)}`, error);
    }
    res.statusCode = upstream.status;
    for (const name of PASSED_HEADERS) {
      const value = upstream.headers.get(name);
      if (value !== null) res.setHeader(name, value);
    }
    // Proxies between the browser and us must not buffer the event stream.
    res.setHeader('x-accel-buffering', 'no');
    res.flushHeaders();
    if (upstream.body === null) {
      res.end();
      return;
    }
    await pipeline(Readable.fromWeb(upstream.body as WebReadableStream<Uint8Array>), res).catch((error: unknown) => {
      // The browser went away mid-stream: nothing left to answer.
      if (!abort.signal.aborted) throw error;
    });
  }
}

function joinPath(segments: string[] | string): string {
  return Array.isArray(segments) ? segments.join('/') : segments;
}
