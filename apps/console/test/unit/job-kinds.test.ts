import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/api/http';
import { fieldErrors, problemPath } from '../../src/lib/field-errors';
import { buildSubmission, fieldForPath, FieldInputError, initialValues, kindForm, OTHER_KIND_FORM } from '../../src/lib/job-kinds';
import { formatValue, humanizeKey } from '../../src/lib/format';

describe('job kind forms: request bodies', () => {
  it('builds a train body with nested fields, tags as a list and hyperparameters as JSON; empty fields are left out', () => {
    const form = kindForm('train');
    const body = buildSubmission(form, { ...initialValues(form), baseModel: 'tiny', 'dataset.ref': 'ds1', 'adapter.name': 'rev', 'adapter.tags': 'a, b,', 'companionDiscriminator.enabled': 'true' });
    assert.deepEqual(body, {
      kind: 'train',
      baseModel: 'tiny',
      dataset: { ref: 'ds1' },
      adapter: { name: 'rev', tags: ['a', 'b'] },
      companionDiscriminator: { enabled: true },
      hyperparameters: { steps: 50, batchSize: 4, lr: 0.005, lora: { r: 4, alpha: 8 } },
    });
  });

  it('builds an evaluate body with numbers, and sends a non-number as typed (the registry names it)', () => {
    const form = kindForm('evaluate');
    assert.deepEqual(buildSubmission(form, { baseModel: 'tiny', adapter: 'a@v1', 'task.worldTask': 'reverse-word', 'task.examples': '8', 'task.splitSeed': '' }), {
      kind: 'evaluate',
      baseModel: 'tiny',
      adapter: 'a@v1',
      task: { worldTask: 'reverse-word', examples: 8 },
    });
    assert.deepEqual(buildSubmission(form, { baseModel: 'tiny', 'task.worldTask': 't', 'task.examples': 'many' }).task, { worldTask: 't', examples: 'many' });
  });

  it('keeps only the chosen data source of a router, splits experts by line', () => {
    const form = kindForm('train-router');
    const values = { ...initialValues(form), name: 'r', baseModel: 'tiny', experts: 'a@v1\n\n b@v2 ', 'data.worldTasks': 'x, y', 'data.dataset': 'ds' };
    assert.deepEqual(buildSubmission(form, values).data, { source: 'world', worldTasks: ['x', 'y'] });
    assert.deepEqual(buildSubmission(form, { ...values, 'data.source': 'dataset' }).data, { source: 'dataset', dataset: 'ds' });
    assert.deepEqual(buildSubmission(form, values).experts, ['a@v1', 'b@v2']);
  });

  it('refuses JSON that does not parse or is not an object, at its field', () => {
    const form = kindForm('pretrain');
    assert.throws(
      () => buildSubmission(form, { baseModel: 'b', hyperparameters: '{"steps": 1,' }),
      (e: unknown) => e instanceof FieldInputError && e.field === 'hyperparameters' && /not valid JSON/.test(e.message),
    );
    assert.throws(() => buildSubmission(form, { hyperparameters: '[1]' }), (e: unknown) => e instanceof FieldInputError && /expected a JSON object/.test(e.message));
  });

  it('sends another kind as its name plus the JSON fields', () => {
    assert.deepEqual(buildSubmission(OTHER_KIND_FORM, { kind: 'train-retriever', spec: '{"baseModel": "tiny", "kind": "ignored"}' }), { kind: 'train-retriever', baseModel: 'tiny' });
  });
});

describe('job kind forms: where a registry error goes', () => {
  it('maps request and payload paths to the nearest field, aliases and the first field below', () => {
    const train = kindForm('train');
    assert.equal(fieldForPath(train, 'hyperparameters.lora.r'), 'hyperparameters');
    assert.equal(fieldForPath(train, 'adapter'), 'adapter.name');
    assert.equal(fieldForPath(train, 'dataset'), 'dataset.ref');
    assert.equal(fieldForPath(train, 'kind'), undefined);
    const evaluate = kindForm('evaluate');
    assert.equal(fieldForPath(evaluate, 'task.seed'), 'task.splitSeed');
    assert.equal(fieldForPath(evaluate, 'task.worldTask'), 'task.worldTask');
    assert.equal(fieldForPath(kindForm('train-router'), 'experts[1]'), 'experts');
    assert.equal(fieldForPath(kindForm('train-router'), 'data.worldTasks[0]'), 'data.worldTasks');
  });

  it('spreads problems and issues over fields and keeps the rest for the form', () => {
    const form = kindForm('train');
    const error = new ApiError(400, 'VALIDATION_FAILED', 'job submission is invalid', ['adapter.name: expected a name', 'kind: whatever', 'hyperparameters.steps: must be ≥ 1, got 0']);
    const found = fieldErrors(error, (p) => fieldForPath(form, p));
    assert.deepEqual([...found.byField.keys()].sort(), ['adapter.name', 'hyperparameters']);
    assert.deepEqual(found.rest, ['kind: whatever']);
    // A single 404 names its field in details.
    const notFound = new ApiError(404, 'NOT_FOUND', 'base model "x" not found', [], undefined, { baseModel: 'x' });
    assert.deepEqual([...fieldErrors(notFound, (p) => fieldForPath(form, p)).byField.keys()], ['baseModel']);
    assert.equal(problemPath('experts[1]: "a@v1" is built on base model "b"'), 'experts[1]');
    assert.equal(problemPath('no path here'), '');
  });
});

describe('generic value display', () => {
  it('humanises keys and formats fractions, counts, hashes and lists', () => {
    assert.equal(humanizeKey('acceptanceRate'), 'Acceptance rate');
    assert.equal(humanizeKey('top_k'), 'Top k');
    assert.equal(humanizeKey('topKCounts'), 'Top k counts');
    assert.equal(formatValue('acceptanceRate', 0.25), '25.0%');
    assert.equal(formatValue('accepted', 1234), '1,234');
    assert.equal(formatValue('sha', 'a'.repeat(64)), `${'a'.repeat(12)}…`);
    assert.equal(formatValue('weights', [0.5, 1]), '0.500, 1');
    assert.equal(formatValue('filtered', true), 'yes');
  });
});
