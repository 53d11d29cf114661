import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomCheckpoint, randomLora, randomModelConfig } from '../testing/random-model';
import { Tokenizer } from '../tokenizer/tokenizer';
import { trainByteLevelBpe } from '../tokenizer/train-bpe';
import { compositePrompt } from '../world/composite';
import { getWorldTask } from '../world/tasks';
import { RoutedModel } from './routed-model';
import { ROUTER_KINDS } from './router-artifact';
import { labelComposite, routerLineBreaks, trainRouter, worldRouterData } from './train-router';
import { maskAmbiguousGateLabels } from './meteora-train';
import { decodeRouterArtifact, encodeRouterArtifact } from './router-artifact';
import { PrefixState, prefixTokenFeature } from '../model/meteora-prefix';

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

  it('line scope: the gate target at each position is the task of the question line its prefix feature shows', () => {
    const c = compositePrompt([tasks[0]!, tasks[2]!, tasks[1]!], ['abc', '12', 'xyz']);
    const lineBreaks = routerLineBreaks(tokenizer, config.vocabSize);
    const row = labelComposite(tokenizer, c, new Map(tasks.map((t, i) => [t.id, i])), { lineBreaks });
    const partTasks = [0, 2, 1];
    const promptLength = row.lossMask.indexOf(1);
    let promptText = '';
    let answerText = '';
    row.ids.forEach((id, t) => {
      // A break belongs to the line it ends: the line is the number of breaks before the token.
      const before = t < promptLength ? promptText : answerText;
      const breaks = before.split('\n').length - 1;
      const line = t < promptLength ? (breaks < partTasks.length ? breaks : 0) : Math.min(breaks, partTasks.length - 1);
      if (t + 1 < row.ids.length) assert.equal(row.taskLabels[t + 1], partTasks[line], `gate target at token ${t} ${JSON.stringify(tokenizer.decode([id]))}`);
      if (t < promptLength) promptText += tokenizer.decode([id], { skipSpecialTokens: true });
      else answerText += tokenizer.decode([id], { skipSpecialTokens: true });
    });
    assert.equal(row.taskLabels[0], -1);
    assert.equal(answerText, ` ${c.answer}`);
  });

  it('gives "k. " line starts, "Q: " and the "A:" line to the list-format expert, the rest to its line\'s task', () => {
    const c = compositePrompt([tasks[0]!, tasks[2]!], ['abc', '12']);
    const row = labelComposite(tokenizer, c, new Map(tasks.map((t, i) => [t.id, i])), { formatExpert: 3 });
    let text = '';
    const byChar: number[] = [];
    row.ids.forEach((id, t) => {
      const piece = tokenizer.decode([id], { skipSpecialTokens: true });
      for (const _ of piece) byChar.push(row.taskLabels[t]!);
      text += piece;
    });
    assert.equal(text, 'Q: 1. % abc\n2. [ 12\nA: 1. cba\n2. even');
    // Characters of a line start / of "Q: " / of "A: " must be 3; marker onward the line's task.
    const want = (i: number): number => {
      const lineStart = text.lastIndexOf('\n', i - 1) + 1;
      const line = text.slice(lineStart);
      const head = /^(Q: |A: )?(\d+\. )?/.exec(line)![0].length;
      if (i - lineStart < head) return 3;
      return text.slice(0, i).split('\n').length % 2 === 1 ? 0 : 2; // lines 1 and 3: reverse; 2 and 4: parity
    };
    for (let i = 0; i < text.length; i++) if (text[i] !== '\n') assert.equal(byChar[i], want(i), `char ${i} ${JSON.stringify(text[i])}`);
  });

  it('masks the gate targets of positions whose prefix rows of different tasks share', () => {
    const rows = [
      { ids: [1, 2, 5, 6], lossMask: [0, 0, 1, 1], taskLabels: [0, 0, 0, 0] },
      { ids: [1, 2, 7, 6], lossMask: [0, 0, 1, 1], taskLabels: [1, 1, 1, 1] },
      { ids: [1, 3, 7], lossMask: [0, 0, 1], taskLabels: [1, 1, 1] },
    ];
    const masked = maskAmbiguousGateLabels(rows);
    // Prefix [1] is followed by task 0 and task 1: label 1 goes; prefix [1, 2] likewise: label 2 goes.
    assert.deepEqual(masked.map((r) => r.taskLabels), [[0, -1, -1, 0], [1, -1, -1, 1], [1, -1, 1]]);
    assert.deepEqual(maskAmbiguousGateLabels(rows, 2)[0]!.taskLabels, [0, 2, 2, 0]);
  });

  it('prefix-token feature: prompt positions see the whole prompt, later ones what came before, padding nothing', () => {
    const V = 6;
    const state = [new PrefixState({ kind: 'sequence' })];
    const prefill = prefixTokenFeature([[0, 4, 2]], V, { real: [[0, 1, 1]], state, promptLengths: [3] });
    const at = (data: ArrayLike<number>, t: number): number[] => Array.from({ length: V }, (_, v) => data[t * V + v]!);
    assert.deepEqual(at(prefill.data as Float32Array, 0), [0, 0, 0, 0, 0, 0], 'left padding');
    for (let t = 1; t < 3; t++) assert.deepEqual(at(prefill.data as Float32Array, t), [0, 0, 1, 0, 1, 0], `position ${t}`);
    const step = prefixTokenFeature([[5]], V, { real: [[1]], state });
    assert.deepEqual(at(step.data as Float32Array, 0), [0, 0, 1, 0, 1, 1]);
    const causal = prefixTokenFeature([[1, 3]], V);
    assert.deepEqual([at(causal.data as Float32Array, 0), at(causal.data as Float32Array, 1)], [[0, 1, 0, 0, 0, 0], [0, 1, 0, 1, 0, 0]]);
  });

  it('prefix-token feature, line scope: question line k is what prompt line k and answer line k see', () => {
    // Tokens: 0 = line break; "Q 1 a \n 2 b \n A" then the answer "1 x \n 2 y \n 3".
    const V = 10;
    const [Q, one, a, two, b, A, x, y, three] = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const scope = { kind: 'line', lineBreaks: new Set([0]) } as const;
    const prompt = [Q, one, a, 0, two, b, 0, A];
    const answer = [one, x, 0, two, y, 0, three];
    const feature = prefixTokenFeature([[...prompt, ...answer]], V, { promptLengths: [prompt.length], scope });
    const at = (t: number): number[] => Array.from({ length: V }, (_, v) => v).filter((v) => feature.data[t * V + v] === 1);
    // A break ends its line (the next line starts at the token after it); answer line 3 has no question line 3.
    const line1 = [Q, one, a, 0];
    const line2 = [0, two, b];
    const expected = [line1, line1, line1, line1, line2, line2, line2, line1, line1, line1, line1, line2, line2, line2, line2];
    expected.forEach((set, t) => assert.deepEqual(at(t), [...set].sort((p, q) => p - q), `position ${t}`));
    // Stepwise (KV-cache decoding) gives the same sets; a one-line prompt is its own question.
    const state = [new PrefixState(scope)];
    const stepwise = [prefixTokenFeature([prompt], V, { promptLengths: [prompt.length], state }), ...answer.map((t) => prefixTokenFeature([[t]], V, { state }))];
    assert.deepEqual(stepwise.flatMap((f) => Array.from(f.data as Float32Array)), Array.from(feature.data as Float32Array));
    const single = prefixTokenFeature([[Q, a, x]], V, { promptLengths: [2], scope });
    assert.deepEqual(Array.from((single.data as Float32Array).slice(2 * V, 3 * V)), Array.from({ length: V }, (_, v) => (v === Q || v === a ? 1 : 0)));
  });

  it('meteora with the prefix gate and a list-format expert: the artifact round-trips and its prefill matches forward', async () => {
    const data = worldRouterData(tokenizer, tasks, { examplesPerTask: 12, splitSeed: 0, compositeExamples: 4, formatExpert: true });
    assert.equal(data.tasks.length, 4);
    assert.match((data.tasks[3]![0] as { prompt: string }).prompt, /^Q: [@=] /);
    const withFormat = [...experts, { ref: 'list-format@v1', weights: randomLora(config, { r: 2, seed: 49, targetModules: ['q_proj', 'v_proj'] }) }];
    const result = await trainRouter({
      strategy: 'meteora', config, weights, tokenizer, baseModel: 'tiny', experts: withFormat, data,
      hyperparameters: { steps: 3, lr: 0.01, batchSize: 4, seed: 1, topK: 1, prefixGate: true },
    });
    const artifact = result.artifact!;
    assert.equal(artifact.manifest.kind === 'meteora' && artifact.manifest.hyperparameters.prefixTokens, config.vocabSize);
    const prefixGates = [...artifact.tensors.keys()].filter((k) => k.startsWith('prefix_gate.'));
    assert.equal(prefixGates.length, artifact.manifest.targets.length);
    // The trained prefix gates moved off their zero init.
    assert.ok(prefixGates.some((k) => artifact.tensors.get(k)!.data.some((v) => v !== 0)));
    const bytes = encodeRouterArtifact(artifact);
    assert.deepEqual(encodeRouterArtifact(decodeRouterArtifact(bytes)), bytes);
    const model = RoutedModel.create({ config, weights }, artifact, withFormat.map((e) => e.weights));
    const prompt = tokenizer.encode('Q: % abc\nA:');
    const logits = await model.forward([prompt]);
    const V = config.vocabSize;
    let first: Float32Array | undefined;
    await model.generate([prompt], { maxNewTokens: 2, stopTokenIds: [], onLogits: (_r, l) => (first ??= Float32Array.from(l)) });
    const last = logits.data.subarray((prompt.length - 1) * V, prompt.length * V);
    for (let v = 0; v < V; v++) assert.ok(Math.abs(first![v]! - last[v]!) < 1e-3, `logit ${v}: ${first![v]} vs ${last[v]}`);
    await model.dispose();
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
