import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { GraphQLModule } from '@nestjs/graphql';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ArtifactsModule } from './artifacts/artifacts.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { CatalogModule } from './catalog/catalog.module';
import { CommonModule } from './common/common.module';
import { ConsoleModule } from './console/console.module';
import { formatGraphqlError } from './common/graphql/format-graphql-error';
import { writeError } from './common/http/all-exceptions.filter';
import { requestObserver } from './common/http/request-observer';
import { AppLogger } from './common/logging/app-logger';
import { MetricsService } from './common/metrics/metrics.service';
import type { AppConfig } from './config/app-config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { JobsModule } from './jobs/jobs.module';
import { RetrievalModule } from './retrieval/retrieval.module';
import { StorageModule } from './storage/storage.module';

/** Root module. Every feature module is imported here. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig, logger: AppLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        CommonModule.forRoot(logger),
        DatabaseModule,
        StorageModule,
        AuditModule,
        AuthModule,
        HealthModule,
        CatalogModule,
        RetrievalModule,
        JobsModule,
        ArtifactsModule,
        ConsoleModule,
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          path: '/graphql',
          autoSchemaFile: true,
          sortSchema: true,
          playground: false,
          introspection: true,
          context: ({ req, res }: { req: IncomingMessage; res: ServerResponse }) => ({ req, res }),
          formatError: formatGraphqlError(logger),
        }),
      ],
    };
  }
}

export interface CreateAppOptions {
  /** Defaults to a JSON logger on stdout at config.logLevel. */
  logger?: AppLogger;
}

/**
 * Builds and initialises (but does not listen) the whole app: used by main.ts and by
 * testing/createTestApp, so tests run exactly what production runs.
 */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<INestApplication> {
  const logger = options.logger ?? new AppLogger(config.logLevel);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), {
    logger,
    bodyParser: false,
    abortOnError: false,
  });
  try {
    // Before any route: request ids, access log and metrics cover every request, 404s included.
    app.use(requestObserver(logger, app.get(MetricsService)));
    app.useBodyParser('json', { limit: config.maxJsonBodyBytes });
    app.useBodyParser('urlencoded', { limit: config.maxJsonBodyBytes, extended: false });
    setUpSwagger(app);
    await app.init();
    // Errors raised by Express middleware outside Nest's routing (e.g. a malformed JSON body) get the same shape.
    app.use((error: unknown, _req: IncomingMessage, res: ServerResponse, _next: () => void) => writeError(res, error, logger));
    return app;
  } catch (error) {
    // Release what the modules opened (the database above all) so a failed start does not hang the process.
    await app.close().catch(() => undefined);
    throw error;
  }
}

function setUpSwagger(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Palette registry API')
      .setDescription('Catalog of base models and LoRA adapters: uploads, versions, search, API keys.')
      .setVersion('1')
      .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key', description: 'plt_<publicId>_<secret>' }, 'api-key')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Authorization: Bearer plt_<publicId>_<secret>' }, 'bearer')
      .addSecurityRequirements('api-key')
      .addSecurityRequirements('bearer')
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
}
