import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomCheckpoint, randomLora, randomModelConfig } from '../testing/random-model';
import { Tokenizer } from '../tokenizer/tokenizer';
import { trainByteLevelBpe } from '../tokenizer/train-bpe';
import { compositePrompt } from '../world/composite';
import { getWorldTask } from '../world/tasks';
import { RoutedModel } from './routed-model';
import { ROUTER_KINDS } from './router-artifact';
import { labelComposite, trainRouter, worldRouterData } from './train-router';

const tokenizer = Tokenizer.fromJson(trainByteLevelBpe('Q: % abc\nA: cba\n1. 2. } 12 34 & ABC', 300));
const config = randomModelConfig({ vocabSize: 300, eosTokenId: tokenizer.eosTokenId, maxPositionEmbeddings: 128 });
const weights = randomCheckpoint(config, 3);
const tasks = [getWorldTask('reverse-word'), getWorldTask('uppercase-word'), getWorldTask('parity')];
const experts = tasks.map((t, i) => ({ ref: `${t.id}@v1`, weights: randomLora(config, { r: 2, seed: 40 + i, targetModules: ['q_proj', 'v_proj'] }) }));

describe('trainRouter (the train-router job and eval:routing share it)', () => {
  it('labels every token of a composite prompt with the task of its line', () => {
    const c = compositePrompt([tasks[0]!, tasks[2]!], ['abc', '12']);
    const index = new Map(tasks.map((t, i) => [t.id, i]));
    const row = labelComposite(tokenizer, c, index);
    assert.equal(row.ids.length, row.taskLabels.length);
    // Rebuild the text token by token and check the label of each line's characters.
    const text = `${c.prompt} ${c.answer}`;
    assert.equal(tokenizer.decode(row.ids, { skipSpecialTokens: true }), text);
    const lines = text.split('\n'); // "Q: 1. % abc", "2. [ 12", "A: 1. cba", "2. even"
    const expected = [0, 2, 0, 2];
    let pos = 0;
    const charLabel: number[] = [];
    lines.forEach((l, k) => {
      for (let c2 = 0; c2 < l.length + 1; c2++) charLabel.push(expected[k]!);
      pos += l.length + 1;
    });
    let at = 0;
    row.ids.forEach((id, t) => {
      const piece = tokenizer.decode([id], { skipSpecialTokens: true });
      if (piece.length > 0) assert.equal(row.taskLabels[t], charLabel[at], `token ${t} ${JSON.stringify(piece)} at char ${at}`);
      at += piece.length;
    });
    assert.ok(pos > 0);
  });

  for (const strategy of ROUTER_KINDS) {
    it(`${strategy}: trains on world data and yields an artifact RoutedModel serves`, async () => {
      const data = worldRouterData(tokenizer, tasks, { examplesPerTask: 12, splitSeed: 0, compositeExamples: strategy === 'meteora' ? 4 : 0 });
      const steps: number[] = [];
      const result = await trainRouter({
        strategy,
        config,
        weights,
        tokenizer,
        baseModel: 'tiny',
        experts,
        data,
        hyperparameters: { steps: 3, lr: 0.01, batchSize: 4, seed: 1, flyRank: 4, flyTopK: 2, flyAlpha: 8 },
        onProgress: (e) => steps.push(e.step),
      });
      assert.equal(result.status, 'completed');
      assert.equal(result.artifact!.manifest.kind, strategy);
      assert.deepEqual(result.artifact!.manifest.experts, experts.map((e) => e.ref));
      assert.deepEqual(steps, Array.from({ length: strategy === 'flylora' ? 9 : 3 }, (_, i) => i + 1));
      assert.ok(Number.isFinite(result.finalLoss!));
      const model = RoutedModel.create({ config, weights }, result.artifact!, strategy === 'flylora' ? [] : experts.map((e) => e.weights));
      const [out] = await model.generate([tokenizer.encode('Q: % abc\nA:')], { maxNewTokens: 3, stopTokenIds: [] });
      assert.equal(out!.tokens.length, 3);
      await model.dispose();
    });
  }

  it('stops when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const data = worldRouterData(tokenizer, tasks, { examplesPerTask: 4, splitSeed: 0 });
    const result = await trainRouter({ strategy: 'xcross', config, weights, tokenizer, baseModel: 'tiny', experts, data, hyperparameters: { steps: 3, lr: 0.01, batchSize: 4, seed: 1 }, signal: controller.signal });
    assert.equal(result.status, 'aborted');
    assert.equal(result.artifact, undefined);
  });
});
