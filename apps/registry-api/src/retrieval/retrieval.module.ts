import { Global, Module } from '@nestjs/common';
import { CatalogModule } from '../catalog/catalog.module';
import { JobsModule } from '../jobs/jobs.module';
import { EmbeddingSpacesController } from './embedding-spaces.controller';
import { EmbeddingSpacesService } from './embedding-spaces.service';
import { RetrievalResolver } from './retrieval.resolver';
import { RetrieverCache } from './retriever-cache';

/**
 * Learned retrieval: embedding spaces, loaded retrievers, the embed hook. Global so the catalog's
 * search and upload services can inject EmbeddingSpacesService without importing this module
 * (this module imports the catalog for its resolver, and a mutual import would be a cycle).
 */
@Global()
@Module({
  // JobsModule for JobQueues (the embed hook enqueues embed jobs); it does not import this module.
  imports: [CatalogModule, JobsModule],
  controllers: [EmbeddingSpacesController],
  providers: [RetrieverCache, EmbeddingSpacesService, RetrievalResolver],
  exports: [EmbeddingSpacesService, RetrieverCache],
})
export class RetrievalModule {}
