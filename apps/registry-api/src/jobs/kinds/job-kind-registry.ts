import type { JobKind } from '@palette/job-contracts';
import { domainErrors } from '../../common';
import type { AnyJobKindHandler } from './job-kind-handler';

/** The handlers by kind (a Nest provider built from JOB_KIND_HANDLERS in kinds/index.ts). One per kind; a kind without a handler cannot be submitted nor register results. */
export class JobKindRegistry {
  private readonly byKind = new Map<string, AnyJobKindHandler>();

  constructor(handlers: readonly AnyJobKindHandler[]) {
    for (const h of handlers) {
      // Two handlers for one kind is a wiring mistake in kinds/index.ts, caught at start-up.
      if (this.byKind.has(h.kind)) throw new Error(`two job kind handlers for kind "${h.kind}"`);
      this.byKind.set(h.kind, h);
    }
  }

  /** Kinds a client may submit through POST /api/v1/jobs and submitJob, in registration order. */
  get submittableKinds(): string[] {
    return [...this.byKind.values()].filter((h) => h.submission !== undefined).map((h) => h.kind);
  }

  /** Every multipart file part some submittable kind accepts. */
  get uploadParts(): Set<string> {
    return new Set([...this.byKind.values()].flatMap((h) => (h.submission?.uploadPart !== undefined ? [h.submission.uploadPart] : [])));
  }

  find(kind: string): AnyJobKindHandler | undefined {
    return this.byKind.get(kind);
  }

  /** The handler of a stored job's kind; a kind with no handler is a 400 naming it. */
  get(kind: JobKind | string): AnyJobKindHandler {
    const h = this.byKind.get(kind);
    if (!h) throw domainErrors.validation(`job kind ${JSON.stringify(kind)} has no handler in this registry (known: ${[...this.byKind.keys()].join(', ')})`, { kind });
    return h;
  }
}
