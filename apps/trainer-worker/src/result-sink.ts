/**
 * Where finished jobs register their results.
 *
 * registry-api's internal route POST /api/v1/internal/jobs/:id/result (src/jobs/) registers them;
 * without REGISTRY_URL/SERVICE_KEY results stay in BullMQ's return value. The contract (the
 * worker's own tests use a stub server implementing it; registry-api's job e2e test the real one):
 * - body: JobResultSubmission JSON; headers: `Authorization: Bearer <SERVICE_KEY>`,
 *   `Idempotency-Key: <job id>`;
 * - 200/201: registered; a repeat with the same key must return the first registration (200)
 *   and register nothing new. So a job that runs twice (stalled and resumed, retried) never
 *   registers two adapters.
 * Transient failures (network, 5xx, 429) are retried here a few times; other 4xx fail the job.
 */
import { IDEMPOTENCY_HEADER, jobResultPath, type JobKind, type JobResultSubmission } from '@palette/job-contracts';
import type { RegistryConfig } from './config';
import { WorkerError } from './errors';

export interface ResultSink {
  readonly description: string;
  submit(submission: JobResultSubmission<JobKind>): Promise<void>;
}

export interface HttpResultSinkOptions {
  readonly attempts?: number;
  readonly retryDelayMs?: number;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

export class HttpResultSink implements ResultSink {
  readonly description: string;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(
    private readonly registry: RegistryConfig,
    options: HttpResultSinkOptions = {},
  ) {
    this.description = `http:${registry.url}`;
    this.attempts = options.attempts ?? 4;
    this.retryDelayMs = options.retryDelayMs ?? 500;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.fetchImpl = options.fetch ?? fetch;
  }

  async submit(submission: JobResultSubmission<JobKind>): Promise<void> {
    const url = `${this.registry.url}${jobResultPath(submission.jobId)}`;
    let lastProblem = '';
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      try {
        const response = await this.fetchImpl(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${this.registry.serviceKey}`,
            [IDEMPOTENCY_HEADER]: submission.jobId,
          },
          body: JSON.stringify(submission),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        if (response.ok) {
          await response.body?.cancel();
          return;
        }
        const text = (await response.text()).slice(0, 500);
        lastProblem = `HTTP ${response.status}: ${text}`;
        const transient = response.status >= 500 || response.status === 429;
        if (!transient) break;
      } catch (e) {
        lastProblem = (e as Error).message;
      }
      if (attempt < this.attempts) await new Promise((r) => setTimeout(r, this.retryDelayMs * 2 ** (attempt - 1)));
    }
    throw new WorkerError('RESULT_SINK_FAILED', `registering the result of job ${submission.jobId} at ${url} failed: ${lastProblem}`);
  }
}
