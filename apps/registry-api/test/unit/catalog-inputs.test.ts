import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCursor, parseListQuery } from '../../src/catalog/adapters/list-adapters.input';
import { parseQualifiedVersion, parseVersionRef, requireAliasName } from '../../src/catalog/adapters/version-ref';
import { parseTags, requireName } from '../../src/catalog/catalog-input';
import { adapterContentDigest } from '../../src/catalog/adapters/adapter-validation';

describe('version references', () => {
  it('parses numbers, latest and aliases', () => {
    assert.deepEqual(parseVersionRef('v3'), { kind: 'number', version: 3 });
    assert.deepEqual(parseVersionRef('12'), { kind: 'number', version: 12 });
    assert.deepEqual(parseVersionRef('latest'), { kind: 'latest' });
    assert.deepEqual(parseVersionRef('prod'), { kind: 'alias', alias: 'prod' });
    assert.throws(() => parseVersionRef('v0'), /start at 1/);
    assert.throws(() => parseVersionRef('Prod!'), /not a version reference/);
    assert.deepEqual(parseQualifiedVersion('legal-de@v2'), { adapter: 'legal-de', ref: { kind: 'number', version: 2 } });
  });

  it('refuses alias names that read as versions', () => {
    assert.equal(requireAliasName('staging'), 'staging');
    for (const bad of ['v2', 'latest', '3', 'Prod', '']) assert.throws(() => requireAliasName(bad), /alias/);
  });
});

describe('list query', () => {
  it('applies defaults and validates every field', () => {
    const q = parseListQuery({});
    assert.deepEqual([q.sort, q.order, q.limit, q.includeDeleted], ['name', 'asc', 50, false]);
    assert.throws(() => parseListQuery({ limit: '0' }), /'limit' must be an integer between 1 and 200/);
    assert.throws(() => parseListQuery({ createdAfter: 'yesterday' }), /'createdAfter' must be an ISO-8601/);
    assert.throws(() => parseListQuery({ createdAfter: '2026-02-01', createdBefore: '2026-01-01' }), /must be before/);
    assert.throws(() => parseListQuery({ namePrefix: "a'; --" }), /'namePrefix' may only contain/);
  });

  it('round-trips cursors and rejects one from another sort order', () => {
    const cursor = encodeCursor({ sort: 'createdAt', order: 'desc', value: '2026-01-01T00:00:00.000Z', id: 'x' });
    assert.deepEqual(parseListQuery({ sort: 'createdAt', order: 'desc', cursor }).cursor, {
      sort: 'createdAt',
      order: 'desc',
      value: '2026-01-01T00:00:00.000Z',
      id: 'x',
    });
    assert.throws(() => parseListQuery({ cursor }), /belongs to a listing sorted by createdAt desc/);
    assert.throws(() => parseListQuery({ cursor: 'garbage' }), /not a cursor this API returned/);
  });
});

describe('names, tags and digests', () => {
  it('validates names and normalises tags', () => {
    assert.equal(requireName('legal-de.v2_x', 'name'), 'legal-de.v2_x');
    assert.throws(() => requireName('../etc', 'name'), /'name' must be/);
    assert.deepEqual(parseTags(' Legal, lang:de ,legal,'), ['legal', 'lang:de']);
    assert.throws(() => parseTags(['ok', 'no spaces']), /tag "no spaces"/);
    assert.throws(() => parseTags(Array.from({ length: 33 }, (_, i) => `t${i}`)), /at most 32 tags/);
  });

  it('derives the content digest from both file digests only', () => {
    const a = adapterContentDigest('1'.repeat(64), '2'.repeat(64));
    assert.match(a, /^[0-9a-f]{64}$/);
    assert.equal(a, adapterContentDigest('1'.repeat(64), '2'.repeat(64)));
    assert.notEqual(a, adapterContentDigest('2'.repeat(64), '1'.repeat(64)));
  });
});
