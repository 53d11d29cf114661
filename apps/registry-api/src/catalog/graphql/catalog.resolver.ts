import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { AdapterDto, AdapterPageDto, AdapterVersionDto, LineageDto } from '../adapters/adapter.dto';
import { AdaptersService } from '../adapters/adapters.service';
import { ListAdaptersInput, parseListQuery } from '../adapters/list-adapters.input';
import { BaseModelDto } from '../base-models/base-model.dto';
import { BaseModelsService } from '../base-models/base-models.service';
import { CurrentKey, RequireRole, type AuthenticatedKey } from '../platform';
import { SearchResultDto } from '../search/search-result.dto';
import { parseSimilar, parseTextSearch } from '../search/search.input';
import { SearchService } from '../search/search.service';

/**
 * The catalog over GraphQL: the same services as REST, so rules and errors are identical.
 * Uploads and downloads stay REST (multipart and byte streams).
 */
@Resolver()
export class CatalogResolver {
  constructor(
    private readonly baseModelsService: BaseModelsService,
    private readonly adaptersService: AdaptersService,
    private readonly searchService: SearchService,
  ) {}

  @Query(() => [BaseModelDto])
  @RequireRole('reader')
  baseModels(): Promise<BaseModelDto[]> {
    return this.baseModelsService.list();
  }

  @Query(() => BaseModelDto)
  @RequireRole('reader')
  baseModel(@Args('name') name: string): Promise<BaseModelDto> {
    return this.baseModelsService.get(name);
  }

  @Query(() => AdapterPageDto)
  @RequireRole('reader')
  adapters(@Args('filter', { type: () => ListAdaptersInput, nullable: true }) filter?: ListAdaptersInput): Promise<AdapterPageDto> {
    return this.adaptersService.list(parseListQuery(filter ?? {}));
  }

  @Query(() => AdapterDto)
  @RequireRole('reader')
  adapter(@Args('name') name: string, @Args('includeDeleted', { nullable: true }) includeDeleted?: boolean): Promise<AdapterDto> {
    return this.adaptersService.get(name, { includeDeleted: includeDeleted ?? false });
  }

  @Query(() => [AdapterVersionDto])
  @RequireRole('reader')
  adapterVersions(@Args('name') name: string): Promise<AdapterVersionDto[]> {
    return this.adaptersService.versions(name);
  }

  @Query(() => AdapterVersionDto)
  @RequireRole('reader')
  adapterVersion(@Args('name') name: string, @Args('ref', { defaultValue: 'latest' }) ref: string): Promise<AdapterVersionDto> {
    return this.adaptersService.version(name, ref);
  }

  @Query(() => LineageDto)
  @RequireRole('reader')
  lineage(@Args('name') name: string, @Args('ref', { defaultValue: 'latest' }) ref: string): Promise<LineageDto> {
    return this.adaptersService.lineage(name, ref);
  }

  @Query(() => SearchResultDto, { description: 'Adapters by name, tag and full text over descriptions' })
  @RequireRole('reader')
  search(
    @Args('q', { nullable: true }) q?: string,
    @Args('tag', { nullable: true }) tag?: string,
    @Args('baseModel', { nullable: true }) baseModel?: string,
    @Args('limit', { type: () => Int, nullable: true }) limit?: number,
  ): Promise<SearchResultDto> {
    return this.searchService.text(parseTextSearch({ q, tag, baseModel, limit }));
  }

  @Query(() => SearchResultDto, { description: 'Adapters with the closest weight sketch to one version' })
  @RequireRole('reader')
  similarAdapters(
    @Args('name') name: string,
    @Args('version', { nullable: true }) version?: string,
    @Args('tag', { nullable: true }) tag?: string,
    @Args('baseModel', { nullable: true }) baseModel?: string,
    @Args('limit', { type: () => Int, nullable: true }) limit?: number,
  ): Promise<SearchResultDto> {
    return this.searchService.similar(name, parseSimilar({ version, tag, baseModel, limit }));
  }

  @Mutation(() => AdapterDto, { description: 'Create or move an alias (e.g. prod → v3)' })
  @RequireRole('writer')
  setAlias(
    @Args('name') name: string,
    @Args('alias') alias: string,
    @Args('version') version: string,
    @CurrentKey() actor: AuthenticatedKey,
  ): Promise<AdapterDto> {
    return this.adaptersService.setAlias(name, alias, version, actor);
  }

  @Mutation(() => AdapterDto)
  @RequireRole('writer')
  removeAlias(@Args('name') name: string, @Args('alias') alias: string, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adaptersService.removeAlias(name, alias, actor);
  }

  @Mutation(() => AdapterDto, { description: 'Replace all tags' })
  @RequireRole('writer')
  setTags(@Args('name') name: string, @Args('tags', { type: () => [String] }) tags: string[], @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adaptersService.setTags(name, tags, actor);
  }

  @Mutation(() => AdapterDto)
  @RequireRole('writer')
  addTags(@Args('name') name: string, @Args('tags', { type: () => [String] }) tags: string[], @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adaptersService.addTags(name, tags, actor);
  }

  @Mutation(() => AdapterDto)
  @RequireRole('writer')
  removeTag(@Args('name') name: string, @Args('tag') tag: string, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adaptersService.removeTag(name, tag, actor);
  }

  @Mutation(() => AdapterDto)
  @RequireRole('writer')
  setDescription(@Args('name') name: string, @Args('description') description: string, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adaptersService.setDescription(name, description, actor);
  }

  @Mutation(() => AdapterDto, { description: 'Soft delete (restorable)' })
  @RequireRole('writer')
  deleteAdapter(@Args('name') name: string, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adaptersService.softDelete(name, actor);
  }

  @Mutation(() => AdapterDto)
  @RequireRole('writer')
  restoreAdapter(@Args('name') name: string, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adaptersService.restore(name, actor);
  }

  @Mutation(() => Boolean, { description: 'Delete a base model; refused while adapters depend on it' })
  @RequireRole('admin')
  async deleteBaseModel(@Args('name') name: string, @CurrentKey() actor: AuthenticatedKey): Promise<boolean> {
    await this.baseModelsService.delete(name, actor);
    return true;
  }
}
