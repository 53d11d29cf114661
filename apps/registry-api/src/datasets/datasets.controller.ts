import { Controller, Get, Param, Post, Query, Req, Res, StreamableFile } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CurrentKey, RequireRole, type AuthenticatedKey } from '../auth';
import { DatasetDto, DatasetUploadResultDto } from './dataset.dto';
import { DatasetsService } from './datasets.service';

@ApiTags('datasets')
@Controller('api/v1/datasets')
export class DatasetsController {
  constructor(private readonly datasets: DatasetsService) {}

  @Post()
  @RequireRole('writer')
  @ApiOperation({
    summary: 'Upload a JSONL dataset (text, prompt/completion or chat records)',
    description: 'Validated line by line (errors name the line); stored by sha256. The same bytes again return the existing dataset with 200.',
  })
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: {
      type: 'object',
      required: ['file'],
      properties: { file: { type: 'string', format: 'binary' }, name: { type: 'string' }, evalFraction: { type: 'number', minimum: 0, maximum: 0.5, default: 0.1 } },
    },
  })
  @ApiCreatedResponse({ type: DatasetUploadResultDto })
  async upload(@Req() req: IncomingMessage, @Res({ passthrough: true }) res: ServerResponse, @CurrentKey() actor: AuthenticatedKey): Promise<DatasetUploadResultDto> {
    const result = await this.datasets.upload(req, actor);
    res.statusCode = result.created ? 201 : 200;
    return result;
  }

  @Get()
  @RequireRole('reader')
  @ApiOkResponse({ type: [DatasetDto] })
  list(@Query('limit') limit?: string): Promise<DatasetDto[]> {
    return this.datasets.list(limit);
  }

  @Get(':ref')
  @RequireRole('reader')
  @ApiOperation({ summary: 'A dataset by id or sha256' })
  @ApiOkResponse({ type: DatasetDto })
  get(@Param('ref') ref: string): Promise<DatasetDto> {
    return this.datasets.get(ref);
  }

  @Get(':ref/download')
  @RequireRole('reader')
  @ApiOperation({ summary: 'The JSONL bytes exactly as uploaded' })
  async download(@Param('ref') ref: string): Promise<StreamableFile> {
    const { dataset, stream } = await this.datasets.download(ref);
    return new StreamableFile(stream, { type: 'application/x-ndjson', length: dataset.sizeBytes, disposition: `attachment; filename="${dataset.name.replace(/"/g, '')}.jsonl"` });
  }
}
