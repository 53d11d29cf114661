import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../platform';
import { SearchResultDto } from './search-result.dto';
import { parseAdapterTextSearch, parseSimilar, parseTextSearch } from './search.input';
import { SearchService } from './search.service';

@ApiTags('search')
@Controller('api/v1')
export class SearchController {
  constructor(private readonly search: SearchService) {}

  @Get('search')
  @RequireRole('reader')
  @ApiOperation({ summary: 'Adapters by name, tag and full text over descriptions' })
  @ApiQuery({ name: 'q', required: false })
  @ApiQuery({ name: 'tag', required: false })
  @ApiQuery({ name: 'baseModel', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({ type: SearchResultDto })
  text(@Query() query: Record<string, unknown>): Promise<SearchResultDto> {
    return this.search.text(parseTextSearch(query));
  }

  @Get('search/adapters')
  @RequireRole('reader')
  @ApiOperation({ summary: "Text → adapters: the query embedded by the base's active retriever, nearest adapter weight embeddings (cosine)" })
  @ApiQuery({ name: 'q', required: true, description: 'what the adapter should do, or a prompt' })
  @ApiQuery({ name: 'baseModel', required: false, description: 'required when several bases have an embedding space' })
  @ApiQuery({ name: 'tags', required: false, description: 'comma-separated; every tag must match' })
  @ApiQuery({ name: 'k', required: false, description: '1-100, default 10' })
  @ApiOkResponse({ type: SearchResultDto })
  adapters(@Query() query: Record<string, unknown>): Promise<SearchResultDto> {
    return this.search.adapters(parseAdapterTextSearch(query));
  }

  @Get('adapters/:name/similar')
  @RequireRole('reader')
  @ApiOperation({ summary: "Adapters closest (cosine) to this adapter version: in the base's learned space when it has a vector there, else by weight sketch" })
  @ApiQuery({ name: 'version', required: false, description: 'vN, N, latest (default) or alias' })
  @ApiQuery({ name: 'tag', required: false })
  @ApiQuery({ name: 'baseModel', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({ type: SearchResultDto })
  similar(@Param('name') name: string, @Query() query: Record<string, unknown>): Promise<SearchResultDto> {
    return this.search.similar(name, parseSimilar(query));
  }
}
