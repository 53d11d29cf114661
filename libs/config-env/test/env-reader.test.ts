import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EnvReader } from '../src/index';

describe('EnvReader', () => {
  it('falls back on unset and empty variables', () => {
    const env = new EnvReader({ EMPTY: '' });
    assert.equal(env.text('UNSET', 'a'), 'a');
    assert.equal(env.text('EMPTY', 'b'), 'b');
    assert.equal(env.optionalText('EMPTY'), undefined);
    assert.equal(env.integer('UNSET', 7, 0, 10), 7);
    assert.equal(env.integer('EMPTY', 8, 0, 10), 8);
    assert.equal(env.optionalInteger('EMPTY', 1), undefined);
    assert.deepEqual(env.list('UNSET'), []);
    assert.deepEqual(env.problems, []);
  });

  it('reads values: integers trimmed, lists split on commas without empty entries', () => {
    const env = new EnvReader({ NAME: 'x', PORT: ' 9000 ', ZERO: '0', ROOTS: '/a, b ,,c,' });
    assert.equal(env.text('NAME', 'y'), 'x');
    assert.equal(env.integer('PORT', 1, 0, 65535), 9000);
    assert.equal(env.integer('ZERO', 5, 0), 0);
    assert.equal(env.optionalInteger('PORT', 1), 9000);
    assert.deepEqual(env.list('ROOTS'), ['/a', 'b', 'c']);
    assert.deepEqual(env.problems, []);
  });

  it('collects one problem per bad integer, naming variable, range and value, and keeps the fallback', () => {
    const env = new EnvReader({ A: 'eighty', B: '-1', C: '1.5', D: '70000', E: '1e3', F: '0x10', G: '99999999999999999999', H: '0' });
    assert.equal(env.integer('A', 1, 0, 65535), 1);
    assert.equal(env.integer('B', 2, 0, 10), 2);
    assert.equal(env.integer('C', 3, 0, 10), 3);
    assert.equal(env.integer('D', 4, 0, 65535), 4);
    assert.equal(env.integer('E', 5, 0, 10_000), 5);
    assert.equal(env.integer('F', 6, 0, 100), 6);
    assert.equal(env.integer('G', 7, 0), 7);
    assert.equal(env.optionalInteger('H', 1), 1);
    assert.deepEqual(env.problems, [
      'A must be an integer between 0 and 65535, got "eighty"',
      'B must be an integer between 0 and 10, got "-1"',
      'C must be an integer between 0 and 10, got "1.5"',
      'D must be an integer between 0 and 65535, got "70000"',
      'E must be an integer between 0 and 10000, got "1e3"',
      'F must be an integer between 0 and 100, got "0x10"',
      'G must be an integer ≥ 0, got "99999999999999999999"',
      'H must be an integer ≥ 1, got "0"',
    ]);
  });

  it('words ranges as intervals when asked', () => {
    const env = new EnvReader({ PORT: 'x' }, { rangeWording: 'interval' });
    env.integer('PORT', 8090, 0, 65535);
    assert.deepEqual(env.problems, ['PORT must be an integer in [0, 65535], got "x"']);
  });

  it('records thrown parser errors and the caller’s own problems, then fails once with all of them', () => {
    const env = new EnvReader({});
    assert.equal(
      env.attempt(() => {
        throw new Error('BLOB_STORE must be dir or s3');
      }),
      undefined,
    );
    assert.equal(
      env.attempt(() => 42),
      42,
    );
    env.problem('REGISTRY_URL is required');
    assert.throws(
      () => env.failIfAny((problems) => new Error(problems.join(' | '))),
      (error: Error) => error.message === 'BLOB_STORE must be dir or s3 | REGISTRY_URL is required',
    );
    assert.doesNotThrow(() => new EnvReader({}).failIfAny(() => new Error('never')));
  });
});
