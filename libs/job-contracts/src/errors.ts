/**
 * Errors raised by the job contracts. `code` is stable so transports (the registry's HTTP/GraphQL
 * layer, the worker's job failure reason) can map it in one place; `issues` lists every bad field.
 */
import type { ValidationIssue } from './validation';

export type JobContractErrorCode = 'PAYLOAD_INVALID' | 'UNKNOWN_JOB_KIND' | 'IDEMPOTENCY_KEY_INVALID' | 'MESSAGE_INVALID';

export class JobContractError extends Error {
  constructor(
    readonly code: JobContractErrorCode,
    message: string,
    readonly issues: readonly ValidationIssue[] = [],
  ) {
    super(message);
    this.name = 'JobContractError';
  }
}
