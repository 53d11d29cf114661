import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomCheckpoint, randomModelConfig } from '../testing/random-model';
import { BaseModelTextEncoder } from './text-encoder';

const config = randomModelConfig();
const weights = randomCheckpoint(config, 7);
const tokenizer = { encode: (text: string) => text.split(' ').map(Number) };

describe('base-model text encoder', () => {
  let encoder: BaseModelTextEncoder;
  before(async () => {
    encoder = await BaseModelTextEncoder.create({ config, weights, tokenizer, id: 'tiny', bosTokenId: 1, batchSize: 4 });
  });
  after(() => encoder.dispose());

  it('pools the same features for a caption alone and padded in a batch', async () => {
    const [alone] = await encoder.features(['5 9 3']);
    const [longer, padded] = await encoder.features(['4 8 15 16 23 2', '5 9 3']);
    assert.equal(alone!.length, config.hiddenSize);
    assert.ok(alone!.every((v, i) => Math.abs(v - padded![i]!) < 1e-5), 'right padding changed the pooled features');
    assert.ok(alone!.some((v, i) => Math.abs(v - longer![i]!) > 1e-3));
  });

  it('refuses token ids outside the vocabulary', async () => {
    await assert.rejects(encoder.features([`3 ${config.vocabSize}`]), /outside the base vocabulary/);
  });
});
