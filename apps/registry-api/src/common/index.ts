export { DomainError, DomainErrorCode, domainErrors, type ErrorDetails } from './domain-error';
export { mapError, type ErrorBody, type MappedError } from './error-mapping';
export { AppLogger } from './logging/app-logger';
export { currentRequestId } from './logging/request-context';
export { MetricsService } from './metrics/metrics.service';
