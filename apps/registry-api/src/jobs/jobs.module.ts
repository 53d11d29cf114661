import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { CatalogModule } from '../catalog/catalog.module';
import { DatasetsModule } from '../datasets/datasets.module';
import { BaseTokenizers } from './base-tokenizers';
import { InternalJobsController } from './internal-jobs.controller';
import { JobCheckpointRefs } from './job-checkpoint-refs';
import { JobEventStream } from './job-event-stream';
import { JobQueues } from './job-queues';
import { JobResultsService } from './job-results.service';
import { JobStateMirror } from './job-state-mirror';
import { JobSubmissionService } from './job-submission.service';
import { JobSubmitRequest } from './job-submit.request';
import { JobsController } from './jobs.controller';
import { JobsResolver } from './jobs.resolver';
import { JobsService } from './jobs.service';
import { JOB_KIND_PROVIDERS } from './kinds';
import { QueueHealthService } from './queue-health.service';
import { SystemController } from './system.controller';

/**
 * The job API: submit (validated up front), list/filter/get from the Job mirror, logs, cancel,
 * retry, live progress over SSE, the workers' internal result route, and queue/worker health
 * (GET /api/v1/system/queues). BullMQ is reached through
 * JobQueues (REDIS_URL); without it the job routes answer 503 and the rest of the registry works.
 */
@Module({
  imports: [CatalogModule, DatasetsModule, ArtifactsModule],
  controllers: [JobsController, InternalJobsController, SystemController],
  providers: [JobQueues, JobsService, JobSubmissionService, JobSubmitRequest, JobResultsService, JobStateMirror, JobEventStream, BaseTokenizers, JobsResolver, QueueHealthService, JobCheckpointRefs, ...JOB_KIND_PROVIDERS],
  exports: [JobsService, JobQueues],
})
export class JobsModule {}
