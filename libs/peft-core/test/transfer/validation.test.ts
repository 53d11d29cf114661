import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PeftCoreError } from '../../src/errors';
import { randomCheckpoint, randomLora } from '../../src/testing/random-model';
import { transferAdapter, type TransferInput } from '../../src/transfer/transfer-adapter';
import { taskTokenizer, tinyConfig } from './fixtures';

/** A valid input (nothing runs: every case below fails validation before any model is built). */
function input(overrides: Partial<TransferInput> = {}): TransferInput {
  const srcTok = taskTokenizer(16);
  const tgtTok = taskTokenizer(40);
  const srcConfig = tinyConfig(srcTok, 32);
  const tgtConfig = tinyConfig(tgtTok, 48);
  return {
    sourceBase: { config: srcConfig, weights: randomCheckpoint(srcConfig, 1) },
    sourceAdapter: randomLora(srcConfig, { r: 4, seed: 2 }),
    sourceTokenizer: srcTok,
    targetBase: { config: tgtConfig, weights: randomCheckpoint(tgtConfig, 3) },
    targetTokenizer: tgtTok,
    seeds: ['a b c ?', 'b c d ?'],
    options: { candidates: 4, seed: 1, training: { steps: 1, batchSize: 2, lr: 1e-3, lora: { r: 4, alpha: 8, targetModules: 'all-linear', init: 'peft-default' } } },
    ...overrides,
  };
}

function rejects(code: string, pattern: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof PeftCoreError, String(e));
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  };
}

describe('transferAdapter validation', () => {
  it('refuses a transfer without seed examples', async () => {
    await assert.rejects(transferAdapter(input({ seeds: [] })), rejects('INVALID_ARGUMENT', /no seed examples/));
    await assert.rejects(transferAdapter(input({ seeds: ['a b c ?', '  '] })), rejects('INVALID_ARGUMENT', /seed example 1 is empty/));
  });

  it('refuses a source adapter trained on a different base than the source base', async () => {
    const valid = input();
    // An adapter shaped for the 48-wide target, offered as the 32-wide source's adapter.
    const wrong = randomLora(valid.targetBase.config, { r: 4, seed: 5 });
    await assert.rejects(transferAdapter({ ...valid, sourceAdapter: wrong }), rejects('ADAPTER_INCOMPATIBLE', /source adapter vs source base.*q_proj.*trained on a different base/));
    const deeper = randomLora({ ...valid.sourceBase.config, numLayers: 3 }, { r: 4, seed: 6, layers: [2] });
    await assert.rejects(transferAdapter({ ...valid, sourceAdapter: deeper }), rejects('ADAPTER_INCOMPATIBLE', /layer 2 does not exist in a 2-layer base/));
  });

  it('refuses a tokenizer whose vocabulary is larger than its model', async () => {
    const valid = input();
    // The target's larger tokenizer on the source model: ids past the embedding table.
    await assert.rejects(transferAdapter({ ...valid, sourceTokenizer: valid.targetTokenizer }), rejects('TOKENIZER_INVALID', /source.*tokenizer has \d+ tokens but the model's vocabulary has only \d+ rows/));
    await assert.rejects(transferAdapter({ ...valid, targetBase: { ...valid.targetBase, config: { ...valid.targetBase.config, vocabSize: 100 } } }), rejects('TOKENIZER_INVALID', /target/));
  });
});
