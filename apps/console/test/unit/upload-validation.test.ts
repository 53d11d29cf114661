import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/api/http';
import { fieldOfServerError, splitTags, validateUploadDraft, type UploadDraft } from '../../src/lib/upload-validation';

const file = (text: string, name: string) => new File([text], name);
const good: UploadDraft = {
  name: 'legal-de',
  baseModel: 'tiny',
  description: '',
  tags: 'legal, lang:de',
  config: file('{"r": 4}', 'adapter_config.json'),
  weights: file('0123456789', 'adapter_model.safetensors'),
};

describe('validateUploadDraft', () => {
  it('accepts a complete draft', async () => {
    assert.deepEqual(await validateUploadDraft(good), {});
  });

  it('names every bad field at once', async () => {
    const errors = await validateUploadDraft({ ...good, name: '-bad name', baseModel: '', tags: 'ok, Not Ok!', config: file('{not json', 'c.json'), weights: null });
    assert.deepEqual(Object.keys(errors).sort(), ['adapter_config', 'adapter_model', 'baseModel', 'name', 'tags']);
    assert.match(errors.tags!, /not ok!/);
    assert.match(errors.adapter_config!, /not valid JSON/);
  });

  it('refuses a config that is JSON but not an object', async () => {
    assert.match((await validateUploadDraft({ ...good, config: file('[1, 2]', 'c.json') })).adapter_config!, /JSON object/);
  });
});

describe('fieldOfServerError', () => {
  it('uses the field the registry named, then the error code, then the message', () => {
    assert.equal(fieldOfServerError(new ApiError(400, 'VALIDATION_FAILED', "'baseModel' is required", [], 'baseModel')), 'baseModel');
    assert.equal(fieldOfServerError(new ApiError(400, 'ADAPTER_TENSORS_INVALID', 'shape [4, 16] has rank 4, config says r = 3')), 'adapter_model');
    assert.equal(fieldOfServerError(new ApiError(400, 'ADAPTER_CONFIG_INVALID', 'peft_type must be LORA')), 'adapter_config');
    assert.equal(fieldOfServerError(new ApiError(404, 'NOT_FOUND', 'base model "x" not found')), 'baseModel');
    assert.equal(fieldOfServerError(new ApiError(409, 'CONFLICT', 'adapter "x" is deleted; restore it first')), undefined);
  });

  it('splits tags the way the registry stores them', () => {
    assert.deepEqual(splitTags(' Legal , ,lang:DE'), ['legal', 'lang:de']);
  });
});
