import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../auth';
import { EmbeddingSpaceDto } from './embedding-space.dto';
import { parseInstallSpace, parseSpaceList } from './embedding-space.input';
import { EmbeddingSpacesService } from './embedding-spaces.service';

@ApiTags('retrieval')
@Controller('api/v1/embedding-spaces')
export class EmbeddingSpacesController {
  constructor(private readonly spaces: EmbeddingSpacesService) {}

  @Get()
  @RequireRole('reader')
  @ApiOperation({ summary: 'Embedding spaces (one per retriever), newest first; one active per base model' })
  @ApiQuery({ name: 'baseModel', required: false })
  @ApiOkResponse({ type: [EmbeddingSpaceDto] })
  list(@Query() query: Record<string, unknown>): Promise<EmbeddingSpaceDto[]> {
    return this.spaces.list(parseSpaceList(query).baseModel);
  }

  @Get(':id')
  @RequireRole('reader')
  @ApiOkResponse({ type: EmbeddingSpaceDto })
  get(@Param('id') id: string): Promise<EmbeddingSpaceDto> {
    return this.spaces.get(id);
  }

  @Post()
  @RequireRole('admin')
  @ApiOperation({ summary: "Installs a retriever artifact {artifactId}: embeds every adapter version of its base, then makes it the base's active space" })
  @ApiOkResponse({ type: EmbeddingSpaceDto })
  install(@Body() body: unknown): Promise<EmbeddingSpaceDto> {
    return this.spaces.install(parseInstallSpace(body).artifactId);
  }
}
