import { Args, Mutation, Query, Resolver } from '@nestjs/graphql';
import { CurrentKey, RequireRole, type AuthenticatedKey } from '../auth';
import { JsonScalar } from '../catalog/graphql/json.scalar';
import { JobDetailDto, JobDto, JobLogsDto, JobPageDto } from './job.dto';
import { JobSubmissionService } from './job-submission.service';
import { parseJobSubmission } from './job-submit.input';
import { JobsService } from './jobs.service';
import { ListJobsInput, parseListJobsQuery } from './list-jobs.input';

/** Jobs over GraphQL: the same services as REST. Submissions here name an uploaded dataset (multipart stays REST). */
@Resolver()
export class JobsResolver {
  constructor(
    private readonly jobsService: JobsService,
    private readonly submissions: JobSubmissionService,
  ) {}

  @Query(() => JobPageDto)
  @RequireRole('reader')
  jobs(@Args('filter', { type: () => ListJobsInput, nullable: true }) filter?: ListJobsInput): Promise<JobPageDto> {
    return this.jobsService.list(parseListJobsQuery(filter ?? {}));
  }

  @Query(() => JobDetailDto)
  @RequireRole('reader')
  job(@Args('id') id: string): Promise<JobDetailDto> {
    return this.jobsService.detail(id);
  }

  @Query(() => JobLogsDto)
  @RequireRole('reader')
  jobLogs(@Args('id') id: string): Promise<JobLogsDto> {
    return this.jobsService.logs(id);
  }

  @Mutation(() => JobDto, { description: 'The submission object of POST /api/v1/jobs, any submittable kind, as JSON (datasets by ref here: file parts stay REST)' })
  @RequireRole('writer')
  async submitJob(@Args('input', { type: () => JsonScalar }) input: unknown, @CurrentKey() actor: AuthenticatedKey): Promise<JobDto> {
    return (await this.submissions.submit(parseJobSubmission(this.submissions.kinds, input, undefined, undefined), undefined, actor)).job;
  }

  @Mutation(() => JobDto)
  @RequireRole('writer')
  cancelJob(@Args('id') id: string, @CurrentKey() actor: AuthenticatedKey, @Args('reason', { nullable: true }) reason?: string): Promise<JobDto> {
    return this.jobsService.cancel(id, actor, reason ?? undefined);
  }

  @Mutation(() => JobDto)
  @RequireRole('writer')
  retryJob(@Args('id') id: string, @CurrentKey() actor: AuthenticatedKey): Promise<JobDto> {
    return this.jobsService.retry(id, actor);
  }
}
