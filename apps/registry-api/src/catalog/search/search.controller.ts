import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../platform';
import { SearchResultDto } from './search-result.dto';
import { parseSimilar, parseTextSearch } from './search.input';
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

  @Get('adapters/:name/similar')
  @RequireRole('reader')
  @ApiOperation({ summary: 'Adapters whose weight sketch is closest (cosine) to this adapter version' })
  @ApiQuery({ name: 'version', required: false, description: 'vN, N, latest (default) or alias' })
  @ApiQuery({ name: 'tag', required: false })
  @ApiQuery({ name: 'baseModel', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({ type: SearchResultDto })
  similar(@Param('name') name: string, @Query() query: Record<string, unknown>): Promise<SearchResultDto> {
    return this.search.similar(name, parseSimilar(query));
  }
}
