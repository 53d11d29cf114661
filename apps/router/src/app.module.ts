import 'reflect-metadata';
import { type DynamicModule, type INestApplication, type LoggerService, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { LoraAdminController } from './admin/lora-admin.controller';
import { AdapterResolver } from './adapters/adapter-resolver';
import { AdapterService } from './adapters/adapter-service';
import { ApiKeyGuard } from './common/api-key.guard';
import { OpenAiExceptionFilter } from './common/openai-exception.filter';
import { ROUTER_CONFIG, type RouterConfig } from './config/router-config';
import { HealthController } from './health/health.controller';
import { MetricsController } from './metrics/metrics.controller';
import { RouterMetrics } from './metrics/router-metrics';
import { BaseModelService } from './models/base-model-service';
import { PreloadService } from './models/preload.service';
import { InferenceService } from './openai/inference.service';
import { AutoRoutingService } from './auto/auto-routing.service';
import { ModelListService } from './openai/model-list.service';
import { OpenAiController } from './openai/openai.controller';
import { BlobReader } from './registry/blob-reader';
import { RegistryClient } from './registry/registry-client';
import { RouterService } from './routers/router-service';

/** The router's one module: small enough that feature modules would only add indirection. */
@Module({})
export class RouterAppModule {
  static forRoot(config: RouterConfig): DynamicModule {
    return {
      module: RouterAppModule,
      controllers: [OpenAiController, LoraAdminController, HealthController, MetricsController],
      providers: [
        { provide: ROUTER_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: OpenAiExceptionFilter },
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        RouterMetrics,
        RegistryClient,
        BlobReader,
        BaseModelService,
        AdapterResolver,
        AdapterService,
        RouterService,
        InferenceService,
        AutoRoutingService,
        ModelListService,
        PreloadService,
      ],
    };
  }
}

export interface CreateRouterAppOptions {
  readonly logger?: LoggerService | false;
}

/** Builds (but does not start listening) the router app for `config`. */
export async function createRouterApp(config: RouterConfig, options: CreateRouterAppOptions = {}): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(RouterAppModule.forRoot(config), {
    logger: options.logger ?? ['error', 'warn', 'log'],
    bodyParser: false,
  });
  // Long prompts and chat histories: well above Express's 100 kB default.
  app.useBodyParser('json', { limit: '8mb' });
  await app.init();
  return app;
}
