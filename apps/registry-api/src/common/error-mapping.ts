import { HttpException, HttpStatus } from '@nestjs/common';
import { BlobStoreError, type BlobStoreErrorCode } from '@palette/object-store';
import { PeftCoreError } from '@palette/peft-core';
import { DomainError, type DomainErrorCode, type ErrorDetails } from './domain-error';

/** The JSON error shape of every REST response: `{ "error": ErrorBody }`. GraphQL puts `code` in extensions.code. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: ErrorDetails;
}

export interface MappedError {
  status: number;
  body: ErrorBody;
  /** True for failures that are the server's fault (logged with stack; message hidden from the client). */
  internal: boolean;
}

const DOMAIN_STATUS: Record<DomainErrorCode, number> = {
  NOT_FOUND: HttpStatus.NOT_FOUND,
  CONFLICT: HttpStatus.CONFLICT,
  VALIDATION_FAILED: HttpStatus.BAD_REQUEST,
  UNAUTHENTICATED: HttpStatus.UNAUTHORIZED,
  FORBIDDEN: HttpStatus.FORBIDDEN,
  PAYLOAD_TOO_LARGE: HttpStatus.PAYLOAD_TOO_LARGE,
  UNSUPPORTED_MEDIA_TYPE: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  DEPENDENCY_EXISTS: HttpStatus.CONFLICT,
  RANGE_NOT_SATISFIABLE: HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE,
  SERVICE_UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
  INTERNAL: HttpStatus.INTERNAL_SERVER_ERROR,
};

const BLOB_STATUS: Record<BlobStoreErrorCode, [number, DomainErrorCode]> = {
  BLOB_NOT_FOUND: [HttpStatus.NOT_FOUND, 'NOT_FOUND'],
  BLOB_INTEGRITY: [HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED'],
  BLOB_TOO_LARGE: [HttpStatus.PAYLOAD_TOO_LARGE, 'PAYLOAD_TOO_LARGE'],
  BLOB_RANGE_INVALID: [HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE, 'RANGE_NOT_SATISFIABLE'],
  BLOB_ADDRESS_INVALID: [HttpStatus.BAD_REQUEST, 'VALIDATION_FAILED'],
  BLOB_STORE_CONFIG_INVALID: [HttpStatus.INTERNAL_SERVER_ERROR, 'INTERNAL'],
  BLOB_STORE_UNAVAILABLE: [HttpStatus.SERVICE_UNAVAILABLE, 'SERVICE_UNAVAILABLE'],
};

/** Codes for statuses Nest, body-parser or multer produce on their own. */
const STATUS_CODE: Record<number, DomainErrorCode> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE',
  422: 'VALIDATION_FAILED',
  503: 'SERVICE_UNAVAILABLE',
};

/**
 * Maps anything thrown while serving a request to a status and an error body. The single source
 * of truth for both transports: the HTTP filter and the GraphQL formatter both call it.
 */
export function mapError(error: unknown): MappedError {
  if (error instanceof DomainError) {
    const status = DOMAIN_STATUS[error.code];
    return { status, body: body(error.code, error.message, error.details), internal: status >= 500 };
  }
  if (error instanceof PeftCoreError) {
    // Bad files and configs are the client's input: 400, or 422 when well-formed but unusable here.
    const status = error.code === 'ADAPTER_INCOMPATIBLE' || error.code === 'UNSUPPORTED' ? 422 : 400;
    return { status, body: body(error.code, error.message, error.details), internal: false };
  }
  if (error instanceof BlobStoreError) {
    const [status, code] = BLOB_STATUS[error.code];
    const internal = status >= 500;
    return { status, body: body(code, internal ? 'blob store failure' : error.message, { reason: error.code }), internal };
  }
  const prisma = mapPrismaError(error);
  if (prisma) return prisma;
  if (error instanceof HttpException) return mapHttpException(error);
  const transport = mapTransportError(error);
  if (transport) return transport;
  return { status: 500, body: body('INTERNAL', 'internal server error'), internal: true };
}

function body(code: string, message: string, details?: ErrorDetails): ErrorBody {
  return details === undefined || Object.keys(details).length === 0 ? { code, message } : { code, message, details };
}

function mapHttpException(error: HttpException): MappedError {
  const status = error.getStatus();
  const response = error.getResponse();
  let message = error.message;
  if (typeof response === 'object' && response !== null && 'message' in response) {
    const raw = (response as { message: unknown }).message;
    message = Array.isArray(raw) ? raw.map(String).join('; ') : String(raw);
  }
  const code = STATUS_CODE[status] ?? (status >= 500 ? 'INTERNAL' : 'VALIDATION_FAILED');
  return { status, body: body(code, message), internal: status >= 500 };
}

/**
 * Errors from Express middleware that never became HttpExceptions: body-parser (`type` like
 * 'entity.parse.failed', with `status`) and multer (`name: 'MulterError'`, `code` like 'LIMIT_FILE_SIZE').
 */
function mapTransportError(error: unknown): MappedError | null {
  if (typeof error !== 'object' || error === null) return null;
  const candidate = error as { name?: unknown; code?: unknown; type?: unknown; status?: unknown; message?: unknown };
  const message = typeof candidate.message === 'string' ? candidate.message : 'bad request';
  if (candidate.name === 'MulterError') {
    const status = candidate.code === 'LIMIT_FILE_SIZE' || candidate.code === 'LIMIT_FIELD_VALUE' ? 413 : 400;
    return { status, body: body(STATUS_CODE[status]!, message, { reason: String(candidate.code) }), internal: false };
  }
  if (typeof candidate.type === 'string' && typeof candidate.status === 'number' && candidate.status >= 400 && candidate.status < 500) {
    const status = candidate.status;
    const text = candidate.type === 'entity.parse.failed' ? `malformed request body: ${message}` : message;
    return { status, body: body(STATUS_CODE[status] ?? 'VALIDATION_FAILED', text, { reason: candidate.type }), internal: false };
  }
  return null;
}

/**
 * A safety net for constraint violations a service did not turn into a DomainError itself
 * (e.g. two concurrent creates racing on a unique name). Matched by name/code so this module
 * does not depend on the generated client. Driver adapters report some violations only through
 * the Postgres SQLSTATE (e.g. RESTRICT as P2039 with originalCode 23001), so that is checked too.
 * Details keep only the model and the constraint's fields, never SQL or driver internals.
 */
function mapPrismaError(error: unknown): MappedError | null {
  if (typeof error !== 'object' || error === null) return null;
  const candidate = error as { name?: unknown; code?: unknown; meta?: unknown };
  if (candidate.name !== 'PrismaClientKnownRequestError' || typeof candidate.code !== 'string') return null;
  const meta = typeof candidate.meta === 'object' && candidate.meta !== null ? (candidate.meta as Record<string, unknown>) : {};
  const details: ErrorDetails = {};
  if (typeof meta.modelName === 'string') details.model = meta.modelName;
  if (Array.isArray(meta.target) || typeof meta.target === 'string') details.fields = meta.target;
  const sqlState = sqlStateOf(meta);
  if (candidate.code === 'P2002' || sqlState === '23505') {
    return { status: 409, body: body('CONFLICT', 'a record with the same unique value already exists', details), internal: false };
  }
  if (candidate.code === 'P2003' || sqlState === '23503' || sqlState === '23001') {
    return { status: 409, body: body('DEPENDENCY_EXISTS', 'the record is referenced by, or refers to, another record', details), internal: false };
  }
  if (candidate.code === 'P2025') return { status: 404, body: body('NOT_FOUND', 'record not found', details), internal: false };
  return null;
}

function sqlStateOf(meta: Record<string, unknown>): string | undefined {
  const adapterError = meta.driverAdapterError;
  if (typeof adapterError !== 'object' || adapterError === null) return undefined;
  const cause = (adapterError as { cause?: unknown }).cause;
  if (typeof cause !== 'object' || cause === null) return undefined;
  const code = (cause as { originalCode?: unknown }).originalCode;
  return typeof code === 'string' ? code : undefined;
}
