import { DomainError, type DomainErrorCode, type ErrorDetails } from '../common/domain-error';

/**
 * The catalog's error factories. Every catalog failure is a DomainError (so the platform's one HTTP
 * filter and one GraphQL formatter map it); the subclass only lets tests and callers tell catalog
 * failures apart.
 */
export class CatalogError extends DomainError {
  constructor(code: DomainErrorCode, message: string, details?: ErrorDetails) {
    super(code, message, details);
    this.name = 'CatalogError';
  }
}

export const catalogErrors = {
  /** `what` names the thing and how it was looked up, e.g. `adapter "legal-de"`. */
  notFound: (what: string, details?: ErrorDetails) => new CatalogError('NOT_FOUND', `${what} not found`, details),
  conflict: (message: string, details?: ErrorDetails) => new CatalogError('CONFLICT', message, details),
  invalid: (message: string, details?: ErrorDetails) => new CatalogError('VALIDATION_FAILED', message, details),
  tooLarge: (message: string, details?: ErrorDetails) => new CatalogError('PAYLOAD_TOO_LARGE', message, details),
  unsupportedMedia: (message: string, details?: ErrorDetails) => new CatalogError('UNSUPPORTED_MEDIA_TYPE', message, details),
  dependencyExists: (message: string, details?: ErrorDetails) => new CatalogError('DEPENDENCY_EXISTS', message, details),
  forbidden: (message: string, details?: ErrorDetails) => new CatalogError('FORBIDDEN', message, details),
};
