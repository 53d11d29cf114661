import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { BaseModelService } from '../models/base-model-service';
import { RegistryClient } from '../registry/registry-client';
import { writeJson } from '../openai/completion-responder';

@Controller()
export class HealthController {
  constructor(
    @Inject(ROUTER_CONFIG) private readonly config: RouterConfig,
    private readonly registry: RegistryClient,
    private readonly baseModels: BaseModelService,
  ) {}

  /** The process is up. */
  @Get('healthz')
  health(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready to serve: the registry answers and the default base model (if any) is loaded. */
  @Get('readyz')
  async ready(@Res() res: ServerResponse): Promise<void> {
    const registry = await this.registry.ping();
    const base = this.config.defaultBaseModel;
    let model: 'ok' | 'missing' | 'not configured' = 'not configured';
    if (base !== undefined) model = await this.baseModels.get(base).then(() => 'ok' as const, () => 'missing' as const);
    const ok = registry && model !== 'missing';
    writeJson(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', registry: registry ? 'ok' : 'unreachable', defaultBaseModel: model });
  }
}
