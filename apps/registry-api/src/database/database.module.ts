import { Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AppLogger } from '../common/logging/app-logger';
import { DatabaseService } from './database.service';

@Global()
@Module({
  providers: [
    {
      provide: DatabaseService,
      inject: [APP_CONFIG, AppLogger],
      useFactory: async (config: AppConfig, logger: AppLogger) => {
        const db = await DatabaseService.open(config.database, { transactionTimeoutMs: config.transactionTimeoutMs });
        logger.info(
          { database: db.kind, migrationsApplied: db.migrations.applied, migrationsAlreadyApplied: db.migrations.alreadyApplied },
          'database ready',
        );
        return db;
      },
    },
  ],
  exports: [DatabaseService],
})
export class DatabaseModule {}
