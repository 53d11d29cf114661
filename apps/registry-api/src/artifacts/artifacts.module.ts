import { Module } from '@nestjs/common';
import { ArtifactService } from './artifact.service';
import { ArtifactsController } from './artifacts.controller';
import { ArtifactsResolver } from './artifacts.resolver';

/**
 * Routers, retrievers and discriminators: REST + GraphQL reads, uploads, soft delete, and
 * ArtifactService.registerFromJob for job result registration (import this module and inject
 * ArtifactService). Relies on the global platform providers only.
 */
@Module({
  controllers: [ArtifactsController],
  providers: [ArtifactService, ArtifactsResolver],
  exports: [ArtifactService],
})
export class ArtifactsModule {}
