import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentKey, RequireRole, type AuthenticatedKey } from '../auth';
import { parseArtifactListQuery, parseVersion } from './artifact-input';
import { ArtifactDto, ArtifactPageDto } from './artifact.dto';
import { ArtifactService } from './artifact.service';

/**
 * Routers, retrievers and discriminators (see README.md in this folder). Route order matters to
 * Express only for equal shapes: `id/:id` and `:kind/:name` both have two segments, so `id` is
 * refused as a kind by the service (it is not one) and `/id/...` routes are declared first.
 */
@ApiTags('artifacts')
@Controller('api/v1/artifacts')
export class ArtifactsController {
  constructor(private readonly artifacts: ArtifactService) {}

  @Get()
  @RequireRole('reader')
  @ApiOperation({ summary: 'List artifacts, newest first, with filters and cursor pagination' })
  @ApiQuery({ name: 'kind', required: false, enum: ['router', 'retriever', 'discriminator'] })
  @ApiQuery({ name: 'name', required: false })
  @ApiQuery({ name: 'baseModel', required: false })
  @ApiQuery({ name: 'adapterVersion', required: false, description: 'adapter@vN' })
  @ApiQuery({ name: 'limit', required: false, description: '1-100, default 20' })
  @ApiQuery({ name: 'cursor', required: false })
  @ApiOkResponse({ type: ArtifactPageDto })
  list(@Query() query: Record<string, unknown>): Promise<ArtifactPageDto> {
    return this.artifacts.list(parseArtifactListQuery(query));
  }

  @Post()
  @RequireRole('writer')
  @ApiOperation({
    summary: 'Upload an artifact: a new version of (kind, name)',
    description:
      "Multipart: field `spec` = JSON {kind, name, baseModel?, adapterVersion? (\"adapter@vN\"), description?, metadata?} and one file part per file, the part's field name being the file name (router: router.json + router.safetensors; retriever: retriever.json + retriever.safetensors; discriminator: discriminator.json + adapter_config.json + adapter_model.safetensors). Validated with peft-core's reader for the kind; a router's experts must be catalog adapter versions on its base.",
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['spec'],
      properties: {
        spec: { type: 'string', description: 'JSON {kind, name, baseModel?, adapterVersion?, description?, metadata?}' },
        'router.json': { type: 'string', format: 'binary' },
        'router.safetensors': { type: 'string', format: 'binary' },
      },
    },
  })
  @ApiCreatedResponse({ type: ArtifactDto })
  upload(@Req() req: IncomingMessage, @CurrentKey() actor: AuthenticatedKey): Promise<ArtifactDto> {
    return this.artifacts.upload(req, actor);
  }

  @Get('id/:id')
  @RequireRole('reader')
  @ApiOperation({ summary: 'One artifact by id (soft-deleted ones too, with deletedAt set)' })
  @ApiOkResponse({ type: ArtifactDto })
  byId(@Param('id') id: string): Promise<ArtifactDto> {
    return this.artifacts.getById(id);
  }

  @Get('id/:id/files/:path')
  @RequireRole('reader')
  @ApiOperation({ summary: "One file's bytes, identical to what was registered; x-sha256 carries its digest" })
  async file(@Param('id') id: string, @Param('path') file: string, @Res({ passthrough: true }) res: ServerResponse): Promise<StreamableFile> {
    const found = await this.artifacts.openFile(id, file);
    res.setHeader('x-sha256', found.sha256);
    return new StreamableFile(found.stream, {
      type: found.path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      length: found.size,
      disposition: `attachment; filename="${found.path}"`,
    });
  }

  @Delete('id/:id')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Soft delete: gone from listings and name lookups; readable by id, files kept' })
  @ApiOkResponse({ type: ArtifactDto })
  softDelete(@Param('id') id: string, @CurrentKey() actor: AuthenticatedKey): Promise<ArtifactDto> {
    return this.artifacts.softDelete(id, actor);
  }

  @Get(':kind/:name')
  @RequireRole('reader')
  @ApiOperation({ summary: 'One artifact by kind and name: ?version=N, or the latest version not deleted' })
  @ApiQuery({ name: 'version', required: false })
  @ApiOkResponse({ type: ArtifactDto })
  get(@Param('kind') kind: string, @Param('name') name: string, @Query('version') version?: string): Promise<ArtifactDto> {
    return this.artifacts.get(kind, name, parseVersion(version));
  }
}
