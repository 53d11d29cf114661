import { Global, Module } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AppLogger } from '../common/logging/app-logger';
import { MetricsService } from '../common/metrics/metrics.service';
import { DatabaseService } from './database.service';

@Global()
@Module({
  providers: [
    {
      provide: DatabaseService,
      inject: [APP_CONFIG, AppLogger, MetricsService],
      useFactory: async (config: AppConfig, logger: AppLogger, metrics: MetricsService) => {
        const db = await DatabaseService.open(config.database, { transactionTimeoutMs: config.transactionTimeoutMs });
        logger.info(
          { database: db.kind, migrationsApplied: db.migrations.applied, migrationsAlreadyApplied: db.migrations.alreadyApplied },
          'database ready',
        );
        // A growing queue means transactions hold PGlite's single connection too long.
        new Gauge({
          name: 'registry_db_transactions_queued',
          help: 'Interactive transactions waiting for the database connection (PGlite serialises them)',
          registers: [metrics.registry],
          collect() {
            this.set(db.queuedTransactions);
          },
        });
        return db;
      },
    },
  ],
  exports: [DatabaseService],
})
export class DatabaseModule {}
