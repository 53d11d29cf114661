import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  JobContractError,
  PRETRAIN_HYPERPARAMETER_DEFAULTS,
  TRAIN_HYPERPARAMETER_DEFAULTS,
  parseJobPayload,
  type JobInputs,
} from '../src';

const sha = (c: string): string => c.repeat(64);
const baseModel = { files: { 'config.json': sha('a'), 'tokenizer.json': sha('b'), 'model.safetensors': sha('c') } };

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof JobContractError, `expected JobContractError, got ${String(e)}`);
    assert.equal(e.code, 'PAYLOAD_INVALID');
    return e.issues.map((i) => i.path);
  }
  assert.fail('expected the payload to be rejected');
}

describe('parseJobPayload', () => {
  it('fills every train default from a minimal payload, and keeps explicit values', () => {
    const input: JobInputs['train'] = { baseModel, dataset: { sha256: sha('d') } };
    const p = parseJobPayload('train', input);
    assert.deepEqual(p.hyperparameters, TRAIN_HYPERPARAMETER_DEFAULTS);
    assert.equal(p.hyperparameters.lora.r, 8);
    assert.deepEqual(p.hyperparameters.lora.targetModules, ['q_proj', 'v_proj']);
    assert.equal(p.checkpointing.everySteps, 50);
    assert.equal(p.dataset.evalFraction, 0);
    assert.equal(p.dtype, 'F32');

    const q = parseJobPayload('train', { ...input, hyperparameters: { steps: 7, lora: { r: 4, targetModules: 'all-linear' } } });
    assert.equal(q.hyperparameters.steps, 7);
    assert.equal(q.hyperparameters.lora.r, 4);
    assert.equal(q.hyperparameters.lora.alpha, 16, 'sibling defaults still apply inside a partial object');
    assert.equal(q.hyperparameters.lora.targetModules, 'all-linear');
    assert.equal(q.hyperparameters.batchSize, TRAIN_HYPERPARAMETER_DEFAULTS.batchSize);
  });

  it('names every bad field at once, with its path', () => {
    const paths = issuesOf(() =>
      parseJobPayload('train', {
        baseModel: { files: { 'config.json': 'not-a-sha', '../escape': sha('e') } },
        dataset: {},
        hyperparameters: { steps: 0, lr: -1, lora: { r: 2.5, targetModules: ['q_proj', 'x_proj'] }, lerning_rate: 1 },
      }),
    );
    assert.deepEqual(paths.sort(), [
      'baseModel.files.../escape',
      'baseModel.files.config.json',
      'baseModel.files.tokenizer.json',
      'dataset.sha256',
      'hyperparameters.lerning_rate',
      'hyperparameters.lora.r',
      'hyperparameters.lora.targetModules[1]',
      'hyperparameters.lr',
      'hyperparameters.steps',
    ]);
  });

  it('the message lists the problems in words', () => {
    assert.throws(
      () => parseJobPayload('embed', { adapterVersionId: 'v1', space: 'Bad Space', baseModel: { name: 'tiny', ...baseModel }, retriever: { 'retriever.json': sha('e') }, adapter: { 'adapter_config.json': sha('a') } }),
      (e: unknown) => e instanceof JobContractError && /adapter\.adapter_model\.safetensors: is required/.test(e.message) && /space: expected an embedding space id/.test(e.message) && /retriever\.retriever\.safetensors: is required/.test(e.message),
    );
  });

  it('validates pretrain, evaluate and embed payloads with their own defaults', () => {
    const pre = parseJobPayload('pretrain', { baseModel, corpus: { sha256: sha('d') } });
    assert.deepEqual(pre.hyperparameters, PRETRAIN_HYPERPARAMETER_DEFAULTS);
    const ev = parseJobPayload('evaluate', { baseModel, task: { worldTask: 'reverse-word' } });
    assert.deepEqual(ev.task, { worldTask: 'reverse-word', seed: 0, examples: 100 });
    assert.equal(ev.adapter, undefined);
    assert.equal(ev.maxNewTokens, 16);
    const em = parseJobPayload('embed', { adapterVersionId: 'v1', space: 'autolora-v1-0123456789ab', baseModel: { name: 'tiny', ...baseModel }, retriever: { 'retriever.json': sha('e'), 'retriever.safetensors': sha('f') }, adapter: { 'adapter_config.json': sha('a'), 'adapter_model.safetensors': sha('b') } });
    assert.deepEqual(em.captions, []);
    assert.deepEqual(issuesOf(() => parseJobPayload('evaluate', { baseModel, task: { worldTask: 'Reverse Word' } })), ['task.worldTask']);
  });

  it('rejects a non-object payload and an unknown kind', () => {
    assert.deepEqual(issuesOf(() => parseJobPayload('train', 'hello')), ['']);
    assert.throws(() => parseJobPayload('no-such-kind' as 'train', {}), (e: unknown) => e instanceof JobContractError && e.code === 'UNKNOWN_JOB_KIND');
  });

  it('defaults are independent copies (mutating one payload does not change the next)', () => {
    const a = parseJobPayload('train', { baseModel, dataset: { sha256: sha('d') } });
    (a.hyperparameters.lora.targetModules as string[]).push('k_proj');
    const b = parseJobPayload('train', { baseModel, dataset: { sha256: sha('d') } });
    assert.deepEqual(b.hyperparameters.lora.targetModules, ['q_proj', 'v_proj']);
  });
});
