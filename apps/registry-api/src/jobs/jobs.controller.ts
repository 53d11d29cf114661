import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { IDEMPOTENCY_HEADER } from '@palette/job-contracts';
import { CurrentKey, RequireRole, type AuthenticatedKey } from '../auth';
import { JobDetailDto, JobDto, JobLogsDto, JobPageDto, JobSubmitResultDto } from './job.dto';
import { JobEventStream } from './job-event-stream';
import { JobSubmitRequest } from './job-submit.request';
import { SubmitJobInput } from './job-submit.input';
import { JobsService } from './jobs.service';
import { ListJobsInput, parseListJobsQuery } from './list-jobs.input';

class CancelJobInput {
  reason?: string;
}

@ApiTags('jobs')
@Controller('api/v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly submitRequest: JobSubmitRequest,
    private readonly stream: JobEventStream,
  ) {}

  @Post()
  @RequireRole('writer')
  @ApiOperation({
    summary: 'Submit a job (JSON, or multipart with the submission in field `spec` and the JSONL as file part `dataset`)',
    description: `Everything is validated now (hyperparameters, base model, dataset, context length): bad input is a 4xx, never a failed job. The ${IDEMPOTENCY_HEADER} header (or idempotencyKey) becomes the job id; repeating it returns the existing job with 200.`,
  })
  @ApiConsumes('application/json', 'multipart/form-data')
  @ApiBody({ type: SubmitJobInput })
  @ApiCreatedResponse({ type: JobSubmitResultDto })
  async submit(@Req() req: IncomingMessage & { body?: unknown }, @Res({ passthrough: true }) res: ServerResponse, @CurrentKey() actor: AuthenticatedKey): Promise<JobSubmitResultDto> {
    const result = await this.submitRequest.handle(req, actor);
    res.statusCode = result.created ? 201 : 200;
    return result;
  }

  @Get()
  @RequireRole('reader')
  @ApiOperation({ summary: 'List jobs, newest first, filtered by status, kind, base model, dataset or adapter' })
  @ApiOkResponse({ type: JobPageDto })
  list(@Query() query: ListJobsInput): Promise<JobPageDto> {
    return this.jobs.list(parseListJobsQuery(query));
  }

  @Get('events')
  @RequireRole('reader')
  @ApiOperation({ summary: "Every job's progress and final events as server-sent events" })
  @ApiProduces('text/event-stream')
  streamAll(@Req() req: IncomingMessage, @Res() res: ServerResponse): void {
    this.stream.streamAll(req, res);
  }

  @Get(':id')
  @RequireRole('reader')
  @ApiOperation({ summary: 'Status, progress and metric history of a job' })
  @ApiOkResponse({ type: JobDetailDto })
  get(@Param('id') id: string): Promise<JobDetailDto> {
    return this.jobs.detail(id);
  }

  @Get(':id/logs')
  @RequireRole('reader')
  @ApiOkResponse({ type: JobLogsDto })
  logs(@Param('id') id: string, @Query('start') start?: string, @Query('limit') limit?: string): Promise<JobLogsDto> {
    return this.jobs.logs(id, start, limit);
  }

  @Get(':id/events')
  @RequireRole('reader')
  @ApiOperation({ summary: 'Live progress as server-sent events: `state` first, then `progress`, and `completed` / `failed` / `cancelled` last (its `job` is the finished row)' })
  @ApiProduces('text/event-stream')
  events(@Param('id') id: string, @Req() req: IncomingMessage, @Res() res: ServerResponse): Promise<void> {
    return this.stream.streamJob(id, req, res);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @RequireRole('writer')
  @ApiOperation({ summary: 'Cancel: a waiting job is removed; a running one is stopped by its worker within seconds and registers nothing' })
  @ApiOkResponse({ type: JobDto })
  cancel(@Param('id') id: string, @Body() body: CancelJobInput | undefined, @CurrentKey() actor: AuthenticatedKey): Promise<JobDto> {
    return this.jobs.cancel(id, actor, typeof body?.reason === 'string' && body.reason.trim() !== '' ? body.reason.slice(0, 200) : undefined);
  }

  @Post(':id/retry')
  @HttpCode(200)
  @RequireRole('writer')
  @ApiOperation({ summary: 'Retry a failed or cancelled job under the same id (idempotency key); it resumes from its last checkpoint' })
  @ApiOkResponse({ type: JobDto })
  retry(@Param('id') id: string, @CurrentKey() actor: AuthenticatedKey): Promise<JobDto> {
    return this.jobs.retry(id, actor);
  }
}

