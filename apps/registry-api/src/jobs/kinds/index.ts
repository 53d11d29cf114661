/**
 * The job kinds this registry knows. To add a kind: write `kinds/<kind>.kind.ts` (a JobKindHandler,
 * @Injectable) and add its class to JOB_KIND_HANDLERS. See src/jobs/README.md "Adding a job kind".
 */
import type { Provider, Type } from '@nestjs/common';
import { EmbedKind } from './embed.kind';
import { EvaluateKind } from './evaluate.kind';
import { JobInputs } from './job-inputs';
import type { AnyJobKindHandler } from './job-kind-handler';
import { JobKindRegistry } from './job-kind-registry';
import { PretrainKind } from './pretrain.kind';
import { TrainKind } from './train.kind';
import { TransferKind } from './transfer.kind';
import { TrainRouterKind } from './train-router.kind';
import { TrainRetrieverKind } from './train-retriever.kind';

/** One class per kind; submittable kinds are listed to clients in this order. */
export const JOB_KIND_HANDLERS: ReadonlyArray<Type<AnyJobKindHandler>> = [TrainKind, PretrainKind, EvaluateKind, EmbedKind, TransferKind, TrainRouterKind, TrainRetrieverKind];

/** What JobsModule provides: the shared input look-ups, every handler, and the registry of them. */
export const JOB_KIND_PROVIDERS: Provider[] = [
  JobInputs,
  ...JOB_KIND_HANDLERS,
  { provide: JobKindRegistry, useFactory: (...handlers: AnyJobKindHandler[]) => new JobKindRegistry(handlers), inject: [...JOB_KIND_HANDLERS] },
];

export { JobKindRegistry } from './job-kind-registry';
export type { AnyJobKindHandler, JobKindHandler, PreparedJob, RegisteredResult, ResultContext, SubmitContext } from './job-kind-handler';
