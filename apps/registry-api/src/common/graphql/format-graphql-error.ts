import type { GraphQLFormattedError } from 'graphql';
import { GraphQLError } from 'graphql';
import type { AppLogger } from '../logging/app-logger';
import { mapError } from '../error-mapping';

/**
 * Apollo's formatError: the GraphQL counterpart of AllExceptionsFilter. extensions.code carries the
 * same code a REST client would get, extensions.status the HTTP status it maps to.
 */
export function formatGraphqlError(logger: AppLogger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = error instanceof GraphQLError ? error.originalError : error;
    if (original === undefined || original === null || original instanceof GraphQLError) {
      // Parse / validation / variable-coercion errors: the query itself is wrong.
      return {
        message: formatted.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code: 'VALIDATION_FAILED', status: 400, reason: formatted.extensions?.code },
      };
    }
    const mapped = mapError(original);
    if (mapped.internal) logger.error({ err: original, path: formatted.path }, 'graphql resolver failed');
    return {
      message: mapped.body.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: {
        code: mapped.body.code,
        status: mapped.status,
        ...(mapped.body.details ? { details: mapped.body.details } : {}),
      },
    };
  };
}
