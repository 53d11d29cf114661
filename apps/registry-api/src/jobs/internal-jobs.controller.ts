import { Body, Controller, Headers, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import { CurrentKey, RequireRole, type AuthenticatedKey } from '../auth';
import { JobResultRegistrationDto } from './job.dto';
import { parseJobResultSubmission } from './job-result.input';
import { JobResultsService } from './job-results.service';
import { JobKindRegistry } from './kinds/job-kind-registry';

/** Routes for workers (role 'service'; admin may call them too). */
@ApiTags('internal')
@Controller('api/v1/internal/jobs')
export class InternalJobsController {
  constructor(
    private readonly results: JobResultsService,
    private readonly kinds: JobKindRegistry,
  ) {}

  @Post(':id/result')
  @RequireRole('service')
  @ApiOperation({ summary: "Register a finished job's result, once per job id (Idempotency-Key = job id); a repeat returns the first registration with 200" })
  @ApiCreatedResponse({ type: JobResultRegistrationDto })
  async registerResult(
    @Param('id') id: string,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Body() body: unknown,
    @Res({ passthrough: true }) res: ServerResponse,
    @CurrentKey() actor: AuthenticatedKey,
  ): Promise<JobResultRegistrationDto> {
    const result = await this.results.register(id, parseJobResultSubmission(this.kinds, id, idempotencyKey, body), actor);
    res.statusCode = result.created ? 201 : 200;
    return result;
  }
}
