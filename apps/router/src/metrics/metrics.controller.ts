import { Controller, Get, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { RouterMetrics } from './router-metrics';

@Controller()
export class MetricsController {
  constructor(private readonly metrics: RouterMetrics) {}

  /** Prometheus text exposition. */
  @Get('metrics')
  async metricsText(@Res() res: ServerResponse): Promise<void> {
    res.setHeader('content-type', this.metrics.registry.contentType);
    res.end(await this.metrics.registry.metrics());
  }
}
