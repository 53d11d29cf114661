import { Global, Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { AllExceptionsFilter } from './http/all-exceptions.filter';
import { AppLogger } from './logging/app-logger';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsService } from './metrics/metrics.service';

/** Cross-cutting pieces: the logger instance, metrics, and the one HTTP exception filter. */
@Global()
@Module({})
export class CommonModule {
  static forRoot(logger: AppLogger): DynamicModule {
    return {
      module: CommonModule,
      controllers: [MetricsController],
      providers: [
        { provide: AppLogger, useValue: logger },
        MetricsService,
        { provide: APP_FILTER, inject: [AppLogger], useFactory: (appLogger: AppLogger) => new AllExceptionsFilter(appLogger) },
      ],
      exports: [AppLogger, MetricsService],
    };
  }
}
