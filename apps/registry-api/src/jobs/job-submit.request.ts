import type { IncomingMessage } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { receiveMultipart } from '../catalog/uploads/multipart-receiver';
import { TempWorkspace } from '../catalog/uploads/temp-workspace';
import type { AuthenticatedKey } from '../auth';
import { domainErrors } from '../common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { JobQueues } from './job-queues';
import { JobSubmissionService, type SubmitResult } from './job-submission.service';
import { parseJobSubmission } from './job-submit.input';

/** The multipart field holding the submission JSON (the file part's name is the kind's `uploadPart`: dataset, corpus). */
export const SPEC_FIELD = 'spec';

/**
 * Turns POST /api/v1/jobs into a submission: a JSON body, or multipart/form-data with the JSON in
 * field `spec` and the JSONL dataset as file part `dataset` (streamed to a temp file, hashed and
 * size-limited while streaming; the temp file is gone when the request ends).
 */
@Injectable()
export class JobSubmitRequest {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly queues: JobQueues,
    private readonly submissions: JobSubmissionService,
  ) {}

  async handle(req: IncomingMessage & { body?: unknown }, actor: AuthenticatedKey): Promise<SubmitResult> {
    const headerKey = singleHeader(req.headers['idempotency-key']);
    const contentType = req.headers['content-type'] ?? '';
    if (!/^multipart\/form-data/i.test(contentType)) {
      this.queues.require();
      return this.submissions.submit(parseJobSubmission(this.submissions.kinds, req.body, headerKey, undefined), undefined, actor);
    }
    if (!this.queues.enabled) {
      req.resume();
      this.queues.require();
    }
    const parts = this.submissions.kinds.uploadParts;
    const workspace = await TempWorkspace.create(this.config.tmpDir, 'job-submit');
    try {
      const received = await receiveMultipart(Object.assign(req, { headers: req.headers }), workspace, {
        fileLimit: (field) => (parts.has(field) ? this.config.maxDatasetBytes : undefined),
        maxTotalBytes: this.config.maxDatasetBytes,
        maxFiles: 1,
        maxFieldBytes: 256 * 1024,
        maxFields: 2,
      });
      const spec = received.fields.get(SPEC_FIELD);
      if (spec === undefined) throw domainErrors.validation(`multipart job submissions carry the submission JSON in field '${SPEC_FIELD}'`, { field: SPEC_FIELD });
      let body: unknown;
      try {
        body = JSON.parse(spec);
      } catch (err) {
        throw domainErrors.validation(`field '${SPEC_FIELD}' is not valid JSON: ${(err as Error).message}`, { field: SPEC_FIELD });
      }
      // maxFiles: 1, so at most one of the kinds' parts is here; the kind's parser says whether it is the right one.
      const [part, file] = [...received.files][0] ?? [undefined, undefined];
      return await this.submissions.submit(parseJobSubmission(this.submissions.kinds, body, headerKey, part), file, actor);
    } finally {
      await workspace.dispose();
    }
  }
}

function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
