import { Args, Int, Query, Resolver } from '@nestjs/graphql';
import { RequireRole } from '../auth';
import { SearchResultDto } from '../catalog/search/search-result.dto';
import { parseAdapterTextSearch } from '../catalog/search/search.input';
import { SearchService } from '../catalog/search/search.service';
import { EmbeddingSpaceDto } from './embedding-space.dto';
import { parseSpaceList } from './embedding-space.input';
import { EmbeddingSpacesService } from './embedding-spaces.service';

/** GraphQL mirrors of GET /api/v1/search/adapters and GET /api/v1/embedding-spaces. */
@Resolver()
export class RetrievalResolver {
  constructor(
    private readonly spaces: EmbeddingSpacesService,
    private readonly search: SearchService,
  ) {}

  @Query(() => SearchResultDto, { description: "Text → adapters in the base's active embedding space" })
  @RequireRole('reader')
  searchAdapters(
    @Args('q') q: string,
    @Args('baseModel', { nullable: true }) baseModel?: string,
    @Args('tags', { type: () => [String], nullable: true }) tags?: string[],
    @Args('k', { type: () => Int, nullable: true }) k?: number,
  ): Promise<SearchResultDto> {
    return this.search.adapters(parseAdapterTextSearch({ q, baseModel, tags, k }));
  }

  @Query(() => [EmbeddingSpaceDto], { description: 'Embedding spaces, newest first' })
  @RequireRole('reader')
  embeddingSpaces(@Args('baseModel', { nullable: true }) baseModel?: string): Promise<EmbeddingSpaceDto[]> {
    return this.spaces.list(parseSpaceList({ baseModel }).baseModel);
  }
}
