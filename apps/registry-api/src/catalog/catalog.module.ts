import { Module, type Provider } from '@nestjs/common';
import { AdapterDownloadService } from './adapters/adapter-download.service';
import { AdapterUploadService } from './adapters/adapter-upload.service';
import { AdaptersController } from './adapters/adapters.controller';
import { AdaptersService } from './adapters/adapters.service';
import { BaseModelsController } from './base-models/base-models.controller';
import { BaseModelsService } from './base-models/base-models.service';
import { registerCatalogCacheMetrics } from './cache/catalog-cache.metrics';
import { CatalogReadCache, catalogCacheTtlFor } from './cache/catalog-read-cache';
import { CatalogResolver } from './graphql/catalog.resolver';
import { APP_CONFIG, MetricsService, type AppConfig } from './platform';
import { SearchController } from './search/search.controller';
import { SearchService } from './search/search.service';

/** One read cache per app instance, its TTL chosen by the database kind, its counters on /metrics. */
const readCacheProvider: Provider = {
  provide: CatalogReadCache,
  inject: [APP_CONFIG, MetricsService],
  useFactory: (config: AppConfig, metrics: MetricsService) => {
    const cache = new CatalogReadCache(catalogCacheTtlFor(config.database));
    registerCatalogCacheMetrics(metrics, cache);
    return cache;
  },
};

/**
 * The catalog: base models, adapters (upload, versions, aliases, tags, cards, lineage, download)
 * and search, over REST (/api/v1) and GraphQL. Relies on the global platform providers
 * (DatabaseService, BLOB_STORE, APP_CONFIG, AuditService, MetricsService).
 */
@Module({
  controllers: [BaseModelsController, AdaptersController, SearchController],
  providers: [readCacheProvider, BaseModelsService, AdaptersService, AdapterUploadService, AdapterDownloadService, SearchService, CatalogResolver],
  exports: [CatalogReadCache, BaseModelsService, AdaptersService, AdapterUploadService, SearchService],
})
export class CatalogModule {}
