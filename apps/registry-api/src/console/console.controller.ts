import { Controller, Get, Inject, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Public } from '../auth';
import { domainErrors } from '../common';
import { CONSOLE_OPTIONS, type ConsoleOptions } from './console-options';
import { findStaticFile, isClientRoute, type StaticFile } from './static-files';

/**
 * Serves the built admin console (apps/console/dist) at /console. Unknown paths without a file
 * extension get index.html, so deep links into the single-page app (/console/adapters/x) work.
 * Public: the page itself holds no data; every API call it makes carries the user's key.
 */
@ApiExcludeController()
@Public()
@Controller('console')
export class ConsoleController {
  constructor(@Inject(CONSOLE_OPTIONS) private readonly options: ConsoleOptions) {}

  @Get()
  index(@Res() res: ServerResponse): Promise<void> {
    return this.serve('index.html', res);
  }

  @Get('*path')
  file(@Param('path') segments: string[] | string, @Res() res: ServerResponse): Promise<void> {
    const requested = Array.isArray(segments) ? segments.join('/') : segments;
    return this.serve(requested, res);
  }

  private async serve(requested: string, res: ServerResponse): Promise<void> {
    const found = (await findStaticFile(this.options.distDir, requested)) ?? (isClientRoute(requested) ? await this.indexHtml() : undefined);
    if (found === undefined) throw domainErrors.notFound('console file', requested);
    res.statusCode = 200;
    res.setHeader('content-type', found.contentType);
    res.setHeader('content-length', found.size);
    res.setHeader('cache-control', found.cacheControl);
    res.setHeader('x-content-type-options', 'nosniff');
    await pipeline(found.open(), res);
  }

  private async indexHtml(): Promise<StaticFile> {
    const index = await findStaticFile(this.options.distDir, 'index.html');
    if (index === undefined) {
      throw domainErrors.unavailable(`the console is not built (no index.html in ${this.options.distDir}): run \`npm run build -w apps/console\``);
    }
    return index;
  }
}
