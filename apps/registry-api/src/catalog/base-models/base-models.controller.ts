import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req, StreamableFile } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage } from 'node:http';
import { CurrentKey, RequireRole, type AuthenticatedKey } from '../platform';
import { BaseModelDto, DeletedDto } from './base-model.dto';
import { BaseModelsService } from './base-models.service';
import { ImportBaseModelInput } from './import-base-model.input';

@ApiTags('base-models')
@Controller('api/v1/base-models')
export class BaseModelsController {
  constructor(private readonly baseModels: BaseModelsService) {}

  @Get()
  @RequireRole('reader')
  @ApiOkResponse({ type: [BaseModelDto] })
  list(): Promise<BaseModelDto[]> {
    return this.baseModels.list();
  }

  @Post()
  @RequireRole('writer')
  @ApiOperation({ summary: 'Register a Hugging Face-layout model by multipart upload: one part per file, named by the file name' })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['name', 'config.json', 'tokenizer.json'],
      properties: {
        name: { type: 'string' },
        'config.json': { type: 'string', format: 'binary' },
        'tokenizer.json': { type: 'string', format: 'binary' },
        'model.safetensors': { type: 'string', format: 'binary', description: 'or model-0000N-of-0000M.safetensors parts + model.safetensors.index.json' },
      },
    },
  })
  @ApiCreatedResponse({ type: BaseModelDto })
  upload(@Req() req: IncomingMessage, @CurrentKey() actor: AuthenticatedKey): Promise<BaseModelDto> {
    return this.baseModels.upload(req, actor);
  }

  @Post('import')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Register a model folder that is already on the server, inside MODEL_IMPORT_ROOTS' })
  @ApiCreatedResponse({ type: BaseModelDto })
  importFromPath(@Body() body: ImportBaseModelInput | undefined, @CurrentKey() actor: AuthenticatedKey): Promise<BaseModelDto> {
    return this.baseModels.importFromPath(body?.name, body?.path, actor);
  }

  @Get(':name')
  @RequireRole('reader')
  @ApiOkResponse({ type: BaseModelDto })
  get(@Param('name') name: string): Promise<BaseModelDto> {
    return this.baseModels.get(name);
  }

  @Get(':name/files/:file')
  @RequireRole('reader')
  @ApiOperation({ summary: 'Download one file of the model, byte-identical to what was registered' })
  async file(@Param('name') name: string, @Param('file') file: string): Promise<StreamableFile> {
    const found = await this.baseModels.openFile(name, file);
    return new StreamableFile(found.stream, {
      type: file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
      length: found.size,
      disposition: `attachment; filename="${file}"`,
    });
  }

  @Delete(':name')
  @RequireRole('admin')
  @HttpCode(200)
  @ApiOperation({ summary: 'Delete a base model; refused (409) while adapters depend on it' })
  @ApiOkResponse({ type: DeletedDto })
  delete(@Param('name') name: string, @CurrentKey() actor: AuthenticatedKey): Promise<{ deleted: true; name: string }> {
    return this.baseModels.delete(name, actor);
  }
}
