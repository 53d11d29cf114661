import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentKey, RequireRole, type AuthenticatedKey } from '../platform';
import { AdapterDownloadService } from './adapter-download.service';
import { AdapterUploadService } from './adapter-upload.service';
import { AdapterDto, AdapterPageDto, AdapterUploadResultDto, AdapterVersionDto, LineageDto } from './adapter.dto';
import { AdaptersService } from './adapters.service';
import { ListAdaptersInput, parseListQuery } from './list-adapters.input';

class SetAliasInput {
  @ApiProperty({ example: 'v3', description: 'vN, N, latest or another alias' }) version!: string;
}
class TagsInput {
  @ApiProperty({ type: [String], example: ['legal', 'lang:de'] }) tags!: string[];
}
class DescriptionInput {
  @ApiProperty() description!: string;
}

@ApiTags('adapters')
@Controller('api/v1/adapters')
export class AdaptersController {
  constructor(
    private readonly adapters: AdaptersService,
    private readonly uploads: AdapterUploadService,
    private readonly downloads: AdapterDownloadService,
  ) {}

  @Get()
  @RequireRole('reader')
  @ApiOperation({ summary: 'List adapters with filters, sorting and cursor pagination' })
  @ApiOkResponse({ type: AdapterPageDto })
  list(@Query() query: ListAdaptersInput): Promise<AdapterPageDto> {
    return this.adapters.list(parseListQuery(query));
  }

  @Post()
  @RequireRole('writer')
  @ApiOperation({
    summary: 'Upload a PEFT LoRA adapter version (adapter_config + adapter_model parts, or one .tar.gz/.zip bundle)',
    description: 'Identical bytes uploaded again return the existing version with 200 instead of 201.',
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string' },
        baseModel: { type: 'string' },
        description: { type: 'string' },
        tags: { type: 'string', description: 'comma-separated' },
        parent: { type: 'string', description: 'adapter@vN' },
        job: { type: 'string' },
        dataset: { type: 'string', description: 'sha256' },
        adapter_config: { type: 'string', format: 'binary' },
        adapter_model: { type: 'string', format: 'binary' },
        readme: { type: 'string', format: 'binary' },
        bundle: { type: 'string', format: 'binary' },
      },
    },
  })
  @ApiCreatedResponse({ type: AdapterUploadResultDto })
  async upload(
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
    @CurrentKey() actor: AuthenticatedKey,
  ): Promise<AdapterUploadResultDto> {
    const result = await this.uploads.upload(req, actor);
    res.statusCode = result.created ? 201 : 200;
    return result;
  }

  @Get(':name')
  @RequireRole('reader')
  @ApiOkResponse({ type: AdapterDto })
  get(@Param('name') name: string, @Query('includeDeleted') includeDeleted?: string): Promise<AdapterDto> {
    return this.adapters.get(name, { includeDeleted: includeDeleted === 'true' });
  }

  @Patch(':name')
  @RequireRole('writer')
  @ApiOperation({ summary: 'Change the description' })
  @ApiOkResponse({ type: AdapterDto })
  describe(@Param('name') name: string, @Body() body: DescriptionInput | undefined, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adapters.setDescription(name, body?.description, actor);
  }

  @Delete(':name')
  @RequireRole('writer')
  @HttpCode(200)
  @ApiOperation({ summary: 'Soft delete (restorable)' })
  @ApiOkResponse({ type: AdapterDto })
  softDelete(@Param('name') name: string, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adapters.softDelete(name, actor);
  }

  @Post(':name/restore')
  @RequireRole('writer')
  @HttpCode(200)
  @ApiOkResponse({ type: AdapterDto })
  restore(@Param('name') name: string, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adapters.restore(name, actor);
  }

  @Post(':name/purge')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Permanently remove a soft-deleted adapter (blobs go at the next garbage collection)' })
  purge(@Param('name') name: string, @CurrentKey() actor: AuthenticatedKey): Promise<{ purged: true; name: string }> {
    return this.adapters.purge(name, actor);
  }

  @Get(':name/versions')
  @RequireRole('reader')
  @ApiOkResponse({ type: [AdapterVersionDto] })
  versions(@Param('name') name: string): Promise<AdapterVersionDto[]> {
    return this.adapters.versions(name);
  }

  @Get(':name/versions/:ref')
  @RequireRole('reader')
  @ApiOperation({ summary: 'One version by vN, N, latest or alias' })
  @ApiOkResponse({ type: AdapterVersionDto })
  version(@Param('name') name: string, @Param('ref') ref: string): Promise<AdapterVersionDto> {
    return this.adapters.version(name, ref);
  }

  @Get(':name/versions/:ref/lineage')
  @RequireRole('reader')
  @ApiOkResponse({ type: LineageDto })
  lineage(@Param('name') name: string, @Param('ref') ref: string): Promise<LineageDto> {
    return this.adapters.lineage(name, ref);
  }

  @Get(':name/versions/:ref/files/:file')
  @RequireRole('reader')
  @ApiOperation({ summary: 'adapter_config.json / adapter_model.safetensors byte-identical to the upload, or README.md (model card)' })
  async file(@Param('name') name: string, @Param('ref') ref: string, @Param('file') file: string): Promise<StreamableFile> {
    const found = await this.downloads.file(name, ref, file);
    return new StreamableFile(found.stream, { type: found.contentType, length: found.size, disposition: `attachment; filename="${found.fileName}"` });
  }

  @Get(':name/versions/:ref/bundle')
  @RequireRole('reader')
  @ApiOperation({ summary: 'The version as a .tar.gz PEFT folder (<adapter>-v<N>/...)' })
  async bundle(@Param('name') name: string, @Param('ref') ref: string): Promise<StreamableFile> {
    const found = await this.downloads.bundle(name, ref);
    return new StreamableFile(found.stream, { type: 'application/gzip', disposition: `attachment; filename="${found.fileName}"` });
  }

  @Put(':name/aliases/:alias')
  @RequireRole('writer')
  @ApiOperation({ summary: 'Create or move an alias (e.g. prod → v3)' })
  @ApiOkResponse({ type: AdapterDto })
  setAlias(
    @Param('name') name: string,
    @Param('alias') alias: string,
    @Body() body: SetAliasInput | undefined,
    @CurrentKey() actor: AuthenticatedKey,
  ): Promise<AdapterDto> {
    return this.adapters.setAlias(name, alias, body?.version, actor);
  }

  @Delete(':name/aliases/:alias')
  @RequireRole('writer')
  @HttpCode(200)
  @ApiOkResponse({ type: AdapterDto })
  removeAlias(@Param('name') name: string, @Param('alias') alias: string, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adapters.removeAlias(name, alias, actor);
  }

  @Put(':name/tags')
  @RequireRole('writer')
  @ApiOperation({ summary: 'Replace all tags' })
  @ApiOkResponse({ type: AdapterDto })
  setTags(@Param('name') name: string, @Body() body: TagsInput | undefined, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adapters.setTags(name, body?.tags, actor);
  }

  @Post(':name/tags')
  @RequireRole('writer')
  @HttpCode(200)
  @ApiOperation({ summary: 'Add tags' })
  @ApiOkResponse({ type: AdapterDto })
  addTags(@Param('name') name: string, @Body() body: TagsInput | undefined, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adapters.addTags(name, body?.tags, actor);
  }

  @Delete(':name/tags/:tag')
  @RequireRole('writer')
  @HttpCode(200)
  @ApiOkResponse({ type: AdapterDto })
  removeTag(@Param('name') name: string, @Param('tag') tag: string, @CurrentKey() actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.adapters.removeTag(name, tag, actor);
  }
}
