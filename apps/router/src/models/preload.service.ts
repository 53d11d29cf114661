import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { parseAdapterRef } from '../adapters/adapter-ref';
import { AdapterService } from '../adapters/adapter-service';
import { BaseModelService } from './base-model-service';

/**
 * Warms the router in the background after start: the default base model, then PRELOAD_ADAPTERS
 * (pinned). Failures are logged, not fatal: /readyz reports whether the default base is there.
 */
@Injectable()
export class PreloadService implements OnApplicationBootstrap {
  private readonly logger = new Logger('preload');

  constructor(
    @Inject(ROUTER_CONFIG) private readonly config: RouterConfig,
    private readonly baseModels: BaseModelService,
    private readonly adapters: AdapterService,
  ) {}

  onApplicationBootstrap(): void {
    void this.preload();
  }

  private async preload(): Promise<void> {
    const base = this.config.defaultBaseModel;
    if (base === undefined) return;
    try {
      const served = await this.baseModels.get(base);
      for (const text of this.config.preloadAdapters) {
        const { adapter, entry } = await this.adapters.pin(served, parseAdapterRef(text, 'PRELOAD_ADAPTERS'), 'PRELOAD_ADAPTERS');
        this.logger.log(`pinned ${adapter.id} (${entry.bytes} bytes, ${entry.loadMs.toFixed(1)} ms)`);
      }
    } catch (error) {
      this.logger.error(`preload failed: ${(error as Error).message}`);
    }
  }
}
