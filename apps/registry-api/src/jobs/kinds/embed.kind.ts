/**
 * `embed`: enqueued by the platform, not submittable over the API. Its result (a weight sketch) is
 * stored on the Job row only.
 */
import { Injectable } from '@nestjs/common';
import type { JobKindHandler, RegisteredResult, ResultContext } from './job-kind-handler';

@Injectable()
export class EmbedKind implements JobKindHandler<'embed', never, Readonly<Record<string, unknown>>> {
  readonly kind = 'embed' as const;

  parseResult(result: Readonly<Record<string, unknown>>, problems: string[]): Readonly<Record<string, unknown>> | undefined {
    if (!Array.isArray(result.vector) || !result.vector.every((x) => typeof x === 'number')) problems.push('result.vector: expected an array of numbers');
    return result;
  }

  registerResult(_result: Readonly<Record<string, unknown>>, ctx: ResultContext): Promise<RegisteredResult> {
    return ctx.commit(async () => ({ type: 'none' }));
  }
}
