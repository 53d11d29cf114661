import { Module } from '@nestjs/common';
import { AdapterDownloadService } from './adapters/adapter-download.service';
import { AdapterUploadService } from './adapters/adapter-upload.service';
import { AdaptersController } from './adapters/adapters.controller';
import { AdaptersService } from './adapters/adapters.service';
import { CatalogReadCache, catalogCacheTtlFor } from './cache/catalog-read-cache';
import { APP_CONFIG, type AppConfig } from './platform';
import { BaseModelsController } from './base-models/base-models.controller';
import { BaseModelsService } from './base-models/base-models.service';
import { CatalogResolver } from './graphql/catalog.resolver';
import { SearchController } from './search/search.controller';
import { SearchService } from './search/search.service';

/**
 * The catalog: base models, adapters (upload, versions, aliases, tags, cards, lineage, download)
 * and search, over REST (/api/v1) and GraphQL. Relies on the global platform providers
 * (DatabaseService, BLOB_STORE, APP_CONFIG, AuditService).
 */
@Module({
  controllers: [BaseModelsController, AdaptersController, SearchController],
  providers: [{ provide: CatalogReadCache, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new CatalogReadCache(catalogCacheTtlFor(config.database)) }, BaseModelsService, AdaptersService, AdapterUploadService, AdapterDownloadService, SearchService, CatalogResolver],
  exports: [CatalogReadCache, BaseModelsService, AdaptersService, AdapterUploadService, SearchService],
})
export class CatalogModule {}
