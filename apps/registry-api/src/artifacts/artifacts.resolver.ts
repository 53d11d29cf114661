import { Args, Int, Query, Resolver } from '@nestjs/graphql';
import { RequireRole } from '../auth';
import { parseArtifactListQuery, parseVersion } from './artifact-input';
import { ArtifactDto, ArtifactPageDto } from './artifact.dto';
import { ArtifactService } from './artifact.service';

/** The artifact reads over GraphQL, through the same service as REST (same rules, same errors). */
@Resolver()
export class ArtifactsResolver {
  constructor(private readonly service: ArtifactService) {}

  @Query(() => ArtifactPageDto, { description: 'Routers, retrievers and discriminators, newest first' })
  @RequireRole('reader')
  artifacts(
    @Args('kind', { nullable: true }) kind?: string,
    @Args('name', { nullable: true }) name?: string,
    @Args('baseModel', { nullable: true }) baseModel?: string,
    @Args('adapterVersion', { nullable: true, description: 'adapter@vN' }) adapterVersion?: string,
    @Args('limit', { type: () => Int, nullable: true }) limit?: number,
    @Args('cursor', { nullable: true }) cursor?: string,
  ): Promise<ArtifactPageDto> {
    return this.service.list(parseArtifactListQuery({ kind, name, baseModel, adapterVersion, limit, cursor }));
  }

  @Query(() => ArtifactDto, { description: 'One artifact: the given version, or the latest not deleted' })
  @RequireRole('reader')
  artifact(
    @Args('kind') kind: string,
    @Args('name') name: string,
    @Args('version', { type: () => Int, nullable: true }) version?: number,
  ): Promise<ArtifactDto> {
    return this.service.get(kind, name, parseVersion(version));
  }
}
