/**
 * The one error type registry-api's services throw for expected failures. `code` is stable and
 * machine-readable; the HTTP exception filter and the GraphQL error formatter map it to a status /
 * extensions.code in one place (see error-mapping.ts), so services never pick HTTP statuses.
 */
export const DomainErrorCode = {
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  DEPENDENCY_EXISTS: 'DEPENDENCY_EXISTS',
  RANGE_NOT_SATISFIABLE: 'RANGE_NOT_SATISFIABLE',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type DomainErrorCode = (typeof DomainErrorCode)[keyof typeof DomainErrorCode];

export type ErrorDetails = Record<string, unknown>;

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details?: ErrorDetails,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DomainError';
  }
}

/** Factories with messages that name the problem, e.g. `domainErrors.notFound('adapter', name)`. */
export const domainErrors = {
  /** `what` is the entity kind ("adapter"), `key` what it was looked up by. */
  notFound: (what: string, key: string, details?: ErrorDetails) =>
    new DomainError('NOT_FOUND', `${what} ${JSON.stringify(key)} not found`, { [camel(what)]: key, ...details }),
  conflict: (message: string, details?: ErrorDetails) => new DomainError('CONFLICT', message, details),
  validation: (message: string, details?: ErrorDetails) => new DomainError('VALIDATION_FAILED', message, details),
  unauthenticated: (message: string) => new DomainError('UNAUTHENTICATED', message),
  forbidden: (message: string, details?: ErrorDetails) => new DomainError('FORBIDDEN', message, details),
  payloadTooLarge: (message: string, details?: ErrorDetails) => new DomainError('PAYLOAD_TOO_LARGE', message, details),
  unsupportedMediaType: (message: string, details?: ErrorDetails) =>
    new DomainError('UNSUPPORTED_MEDIA_TYPE', message, details),
  dependencyExists: (message: string, details?: ErrorDetails) => new DomainError('DEPENDENCY_EXISTS', message, details),
  rangeNotSatisfiable: (message: string, details?: ErrorDetails) =>
    new DomainError('RANGE_NOT_SATISFIABLE', message, details),
  unavailable: (message: string, cause?: unknown) => new DomainError('SERVICE_UNAVAILABLE', message, undefined, { cause }),
};

function camel(words: string): string {
  return words.replace(/[-_ ]+(\w)/g, (_, c: string) => c.toUpperCase());
}
