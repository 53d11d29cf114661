import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BadRequestException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { BlobNotFoundError, BlobStoreUnavailableError, BlobTooLargeError } from '@palette/object-store';
import { PeftCoreError } from '@palette/peft-core';
import { DomainError, domainErrors } from './domain-error';
import { mapError } from './error-mapping';

describe('mapError', () => {
  it('maps DomainError codes to statuses and keeps message and details', () => {
    const cases: Array<[DomainError, number]> = [
      [domainErrors.notFound('adapter', 'legal-de'), 404],
      [domainErrors.conflict('exists'), 409],
      [domainErrors.validation('bad'), 400],
      [domainErrors.unauthenticated('who'), 401],
      [domainErrors.forbidden('no'), 403],
      [domainErrors.payloadTooLarge('big'), 413],
      [domainErrors.unsupportedMediaType('zip?'), 415],
      [domainErrors.dependencyExists('in use'), 409],
      [domainErrors.rangeNotSatisfiable('range'), 416],
      [domainErrors.unavailable('down'), 503],
    ];
    for (const [error, status] of cases) assert.equal(mapError(error).status, status, error.code);
    const mapped = mapError(domainErrors.notFound('base model', 'tiny'));
    assert.deepEqual(mapped.body, { code: 'NOT_FOUND', message: 'base model "tiny" not found', details: { baseModel: 'tiny' } });
    assert.equal(mapped.internal, false);
  });

  it('maps PeftCoreError with its own code to 400 / 422', () => {
    const invalid = mapError(new PeftCoreError('SAFETENSORS_INVALID', 'header too long', { n: 1 }));
    assert.equal(invalid.status, 400);
    assert.deepEqual(invalid.body, { code: 'SAFETENSORS_INVALID', message: 'header too long', details: { n: 1 } });
    assert.equal(mapError(new PeftCoreError('ADAPTER_INCOMPATIBLE', 'wrong base')).status, 422);
  });

  it('maps blob store errors, hiding internal detail for unavailability', () => {
    assert.equal(mapError(new BlobNotFoundError('a'.repeat(64))).status, 404);
    const tooLarge = mapError(new BlobTooLargeError(10));
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.code, 'PAYLOAD_TOO_LARGE');
    const down = mapError(new BlobStoreUnavailableError('ECONNREFUSED 10.0.0.7:9000'));
    assert.equal(down.status, 503);
    assert.equal(down.internal, true);
    assert.doesNotMatch(down.body.message, /10\.0\.0\.7/);
  });

  it('maps Nest HttpExceptions, body-parser and multer errors to 4xx', () => {
    assert.deepEqual(mapError(new NotFoundException('Cannot GET /x')).body, { code: 'NOT_FOUND', message: 'Cannot GET /x' });
    assert.equal(mapError(new BadRequestException(['a is bad', 'b is bad'])).body.message, 'a is bad; b is bad');
    assert.equal(mapError(new PayloadTooLargeException()).body.code, 'PAYLOAD_TOO_LARGE');
    const parse = Object.assign(new SyntaxError('Unexpected end of JSON input'), { type: 'entity.parse.failed', status: 400 });
    assert.equal(mapError(parse).status, 400);
    const tooBig = Object.assign(new Error('request entity too large'), { type: 'entity.too.large', status: 413 });
    assert.deepEqual(mapError(tooBig).body.code, 'PAYLOAD_TOO_LARGE');
    const multer = Object.assign(new Error('File too large'), { name: 'MulterError', code: 'LIMIT_FILE_SIZE' });
    assert.equal(mapError(multer).status, 413);
  });

  it('maps Prisma constraint errors and hides everything else behind 500', () => {
    const unique = Object.assign(new Error('Unique constraint failed'), { name: 'PrismaClientKnownRequestError', code: 'P2002', meta: { target: ['name'] } });
    assert.equal(mapError(unique).status, 409);
    assert.equal(mapError(unique).body.code, 'CONFLICT');
    const restrict = Object.assign(new Error('Database error. Code: 23001'), {
      name: 'PrismaClientKnownRequestError',
      code: 'P2039',
      meta: { modelName: 'BaseModel', driverAdapterError: { name: 'DriverAdapterError', cause: { originalCode: '23001', detail: 'Key (id)=(x) is referenced' } } },
    });
    assert.deepEqual(mapError(restrict), {
      status: 409,
      body: { code: 'DEPENDENCY_EXISTS', message: 'the record is referenced by, or refers to, another record', details: { model: 'BaseModel' } },
      internal: false,
    });
    const missing = Object.assign(new Error('not found'), { name: 'PrismaClientKnownRequestError', code: 'P2025' });
    assert.equal(mapError(missing).status, 404);
    const unknown = mapError(new TypeError('cannot read properties of undefined (secret detail)'));
    assert.deepEqual(unknown, { status: 500, body: { code: 'INTERNAL', message: 'internal server error' }, internal: true });
  });
});
