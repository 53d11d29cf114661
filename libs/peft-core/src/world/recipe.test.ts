import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeftCoreError } from '../errors';
import { expectedWeightShapes } from '../formats/hf-config';
import { tokenizeExample } from '../train/data';
import {
  FULL_WORLD_RECIPE,
  ROUTING_EXPERT_TASKS,
  SMALL_WORLD_RECIPE,
  checkRecipeFitsContext,
  initialBaseWeights,
  loraLrFor,
  loraStepsFor,
  loraTrainerOptions,
  loraTrainingExamples,
  loraTrainingExamplesOf,
  pretrainCorpus,
  pretrainTrainerOptions,
  recipeTasks,
  taskSplitOf,
  taskValidationExamples,
  tokenizerVocabSize,
  trainExamplesFor,
  validateWorldRecipe,
  worldModelConfig,
  worldRecipe,
  worldTokenizer,
  worldTokenizerFiles,
  type WorldRecipe,
} from './recipe';
import { generateSplit } from './split';
import { WORLD_TASKS, getWorldTask } from './tasks';

const smallFiles = worldTokenizerFiles(SMALL_WORLD_RECIPE);
const smallTokenizer = worldTokenizer(smallFiles);

function rejects(recipe: WorldRecipe, pattern: RegExp): void {
  assert.throws(() => validateWorldRecipe(recipe), (e: unknown) => e instanceof PeftCoreError && e.code === 'INVALID_ARGUMENT' && pattern.test(e.message));
}

test('both variants validate; full covers every world task (≥ 12), small is a cheaper subset on the same base shape', () => {
  validateWorldRecipe(FULL_WORLD_RECIPE);
  validateWorldRecipe(SMALL_WORLD_RECIPE);
  assert.equal(worldRecipe('full'), FULL_WORLD_RECIPE);
  assert.equal(worldRecipe('small'), SMALL_WORLD_RECIPE);
  assert.deepEqual([...FULL_WORLD_RECIPE.tasks].sort(), WORLD_TASKS.map((t) => t.id).sort());
  assert.ok(FULL_WORLD_RECIPE.tasks.length >= 12);
  assert.ok(SMALL_WORLD_RECIPE.tasks.length >= 3 && SMALL_WORLD_RECIPE.tasks.length < FULL_WORLD_RECIPE.tasks.length);
  for (const id of SMALL_WORLD_RECIPE.tasks) assert.ok(FULL_WORLD_RECIPE.tasks.includes(id), id);
  assert.deepEqual(SMALL_WORLD_RECIPE.base, FULL_WORLD_RECIPE.base);
  assert.ok(SMALL_WORLD_RECIPE.pretrain.steps < FULL_WORLD_RECIPE.pretrain.steps);
  assert.ok(SMALL_WORLD_RECIPE.lora.steps < FULL_WORLD_RECIPE.lora.steps);
  for (const task of recipeTasks(SMALL_WORLD_RECIPE)) {
    assert.ok(loraStepsFor(SMALL_WORLD_RECIPE, task) < loraStepsFor(FULL_WORLD_RECIPE, task), `small ${task.id} trains for fewer steps`);
  }
  assert.equal(FULL_WORLD_RECIPE.base.contextLength, 128);
});

test('validation names what is wrong', () => {
  rejects({ ...SMALL_WORLD_RECIPE, tasks: ['reverse-word', 'no-such-task'] }, /unknown task 'no-such-task'/);
  rejects({ ...SMALL_WORLD_RECIPE, tasks: ['parity', 'parity'] }, /repeat/);
  // parity has 1000 distinct inputs: 990 held out leave 10 to train on, fewer than a batch.
  rejects({ ...FULL_WORLD_RECIPE, tasks: ['parity'], evaluation: { ...FULL_WORLD_RECIPE.evaluation, examples: 990 } }, /parity: 10 training examples \(of 1000 inputs, 990 held out\) are fewer than lora\.batchSize 32/);
  rejects({ ...SMALL_WORLD_RECIPE, pretrain: { ...SMALL_WORLD_RECIPE.pretrain, maxSeqLen: 256 } }, /maxSeqLen 256 exceeds the context 128/);
  rejects({ ...SMALL_WORLD_RECIPE, base: { ...SMALL_WORLD_RECIPE.base, numHeads: 3 } }, /not a multiple of numHeads 3/);
  rejects({ ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, lr: 0 } }, /lora\.lr must be positive/);
  rejects({ ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, stepsByTask: { 'no-such-task': 10 } } }, /stepsByTask names unknown task 'no-such-task'/);
  rejects({ ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, stepsByTask: { parity: 0 } } }, /lora\.stepsByTask\.parity must be a positive integer/);
  rejects({ ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, lrByTask: { 'no-such-task': 1e-3 } } }, /lrByTask names unknown task 'no-such-task'/);
  rejects({ ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, lrByTask: { parity: -1 } } }, /lora\.lrByTask\.parity must be positive, got -1/);
  rejects({ ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, validation: { ...SMALL_WORLD_RECIPE.lora.validation, maxAttempts: 0 } } }, /lora\.validation\.maxAttempts must be a positive integer/);
  rejects({ ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, validation: { ...SMALL_WORLD_RECIPE.lora.validation, minAccuracy: 1.5 } } }, /minAccuracy must be within \[0, 1\], got 1\.5/);
  rejects({ ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, validation: { ...SMALL_WORLD_RECIPE.lora.validation, retryStepsFactor: 0.5 } } }, /retryStepsFactor must be within \[1, 4\], got 0\.5/);
  rejects({ ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, validation: { ...SMALL_WORLD_RECIPE.lora.validation, retryLrFactor: 0 } } }, /retryLrFactor must be within \(0, 1\], got 0/);
});

test('validation examples are never held-out ones, and a run sent back gets another seed, more steps and a lower lr', () => {
  for (const id of ['reverse-word', 'parity', 'add-numbers']) {
    const task = getWorldTask(id);
    const heldOut = new Set(taskSplitOf(FULL_WORLD_RECIPE, task).eval.map((e) => e.input));
    const validation = taskValidationExamples(FULL_WORLD_RECIPE, task);
    assert.equal(validation.length, FULL_WORLD_RECIPE.lora.validation.examples, id);
    assert.equal(new Set(validation.map((e) => e.input)).size, validation.length, `${id}: distinct inputs`);
    assert.ok(validation.every((e) => !heldOut.has(e.input)), `${id}: no held-out input`);
    assert.deepEqual(taskValidationExamples(FULL_WORLD_RECIPE, task), validation, `${id}: reproducible`);
  }
  const reverse = getWorldTask('reverse-word');
  const first = loraTrainerOptions(FULL_WORLD_RECIPE, reverse);
  assert.deepEqual(loraTrainerOptions(FULL_WORLD_RECIPE, reverse, 0), first);
  const second = loraTrainerOptions(FULL_WORLD_RECIPE, reverse, 1);
  const third = loraTrainerOptions(FULL_WORLD_RECIPE, reverse, 2);
  assert.notEqual(second.seed, first.seed);
  assert.notEqual(third.seed, second.seed);
  assert.deepEqual([first.steps, second.steps, third.steps], [1000, 1500, 2250], 'steps × 1.5 per retry');
  assert.deepEqual([first.lr, second.lr, third.lr], [5e-3, 2.5e-3, 1.25e-3], 'lr × 0.5 per retry');
  assert.deepEqual({ ...second, seed: first.seed, steps: first.steps, lr: first.lr }, first, 'only the seed, the steps and the lr move');
});

test('the tokenizer is deterministic and keeps every letter and digit a token of its own', () => {
  assert.deepEqual(worldTokenizerFiles(SMALL_WORLD_RECIPE), smallFiles);
  const vocab = tokenizerVocabSize(smallFiles);
  assert.ok(vocab >= 258 && vocab <= SMALL_WORLD_RECIPE.tokenizer.maxVocabSize, `vocab ${vocab}`);
  const text = 'qzxa 9071 HELLO';
  const ids = smallTokenizer.encode(text, { addSpecialTokens: false });
  // 4 letters + space + 4 digits + space + 5 capitals.
  assert.equal(ids.length, 15);
  assert.equal(smallTokenizer.decode(ids), text);
  for (const task of WORLD_TASKS) {
    const prompt = task.prompt('abc');
    assert.equal(smallTokenizer.decode(smallTokenizer.encode(prompt, { addSpecialTokens: false })), prompt, task.id);
  }
  assert.notEqual(smallTokenizer.bosTokenId, undefined);
  assert.notEqual(smallTokenizer.eosTokenId, undefined);
});

test('every example and every answer of both variants fits the context and the decoding budget', () => {
  for (const recipe of [SMALL_WORLD_RECIPE, FULL_WORLD_RECIPE]) {
    const fit = checkRecipeFitsContext(recipe, smallTokenizer);
    assert.ok(fit.longestExampleTokens <= recipe.base.contextLength, `${recipe.variant}: ${fit.longestExampleTokens}`);
    assert.ok(fit.longestAnswerTokens <= recipe.evaluation.maxNewTokens, `${recipe.variant}: ${fit.longestAnswerTokens}`);
    // Character-level answers: "three seven eight" is 17 letters + the leading space + EOS.
    if (recipe.tasks.includes('digits-to-words')) assert.equal(fit.longestAnswerTokens, 19);
  }
  const tight = { ...SMALL_WORLD_RECIPE, evaluation: { ...SMALL_WORLD_RECIPE.evaluation, maxNewTokens: 3 } };
  assert.throws(() => checkRecipeFitsContext(tight, smallTokenizer), /more than evaluation\.maxNewTokens 3/);
  // Every pretraining document fits a row of the context on its own.
  const longestDocument = Math.max(...pretrainCorpus(SMALL_WORLD_RECIPE).map((d) => tokenizeExample(smallTokenizer, d).ids.length));
  assert.ok(longestDocument <= SMALL_WORLD_RECIPE.base.contextLength, `longest document ${longestDocument} tokens`);
});

test('splits: held-out examples are the evaluate job’s questions and never in training', () => {
  for (const task of recipeTasks(SMALL_WORLD_RECIPE)) {
    const split = taskSplitOf(SMALL_WORLD_RECIPE, task);
    assert.equal(split.train.length, trainExamplesFor(SMALL_WORLD_RECIPE, task));
    assert.equal(split.train.length, Math.min(SMALL_WORLD_RECIPE.lora.trainExamples, task.inputSpace - SMALL_WORLD_RECIPE.evaluation.examples));
    assert.equal(split.eval.length, SMALL_WORLD_RECIPE.evaluation.examples);
    const trained = new Set(split.train.map((e) => e.input));
    assert.ok(split.eval.every((e) => !trained.has(e.input)), task.id);
    // An evaluate job with the recipe's split seed and example count scores these exact questions.
    const job = generateSplit(task, { seed: SMALL_WORLD_RECIPE.evaluation.splitSeed, train: 0, eval: SMALL_WORLD_RECIPE.evaluation.examples });
    assert.deepEqual(job.eval, split.eval);
    const examples = loraTrainingExamples(task, split);
    assert.equal(examples[0]!.prompt, task.prompt(split.train[0]!.input));
    assert.equal(examples[0]!.completion, ` ${split.train[0]!.answer}`);
  }
});

test('list rows (lora.listRowsByTask): the task’s question is one line of a numbered list, and the completion is its own answer line', () => {
  const task = getWorldTask('reverse-word');
  const recipe = { ...SMALL_WORLD_RECIPE, lora: { ...SMALL_WORLD_RECIPE.lora, listRowsByTask: { 'reverse-word': 0.5 } } };
  const split = taskSplitOf(recipe, task);
  const rows = loraTrainingExamplesOf(recipe, task);
  assert.deepEqual(loraTrainingExamplesOf(recipe, task), rows, 'reproducible');
  assert.equal(rows.length, split.train.length + Math.round(0.5 * split.train.length), 'list rows come on top of every single row');
  const singles = rows.filter((r) => !r.prompt.startsWith('Q: 1. '));
  assert.deepEqual(new Set(singles.map((r) => r.prompt)), new Set(split.train.map((e) => task.prompt(e.input))));
  const answers = new Map(split.train.map((e) => [e.input, e.answer]));
  const markers = new Map(WORLD_TASKS.map((t) => [t.marker, t]));
  let neighbours = 0;
  for (const row of rows.filter((r) => r.prompt.startsWith('Q: 1. '))) {
    assert.ok(row.prompt.length + row.completion.length <= recipe.base.contextLength - 2, `fits the context: ${JSON.stringify(row)}`);
    const [questionPart, answered] = row.prompt.slice('Q: '.length).split('\nA:') as [string, string];
    const questions = questionPart.split('\n');
    assert.ok(questions.length >= 2 && questions.length <= 3, JSON.stringify(row));
    // The prompt ends after "A:" (line 1) or after the own line's number (line k > 1).
    const before = answered === '' ? [] : answered.slice(1).split('\n').slice(0, -1);
    const k = before.length;
    if (k > 0) assert.ok(answered.endsWith(`\n${k + 1}`), JSON.stringify(row));
    const own = /^(\d+)\. (\S) (.+)$/.exec(questions[k]!)!;
    assert.equal(own[2], task.marker, `line ${k + 1} is the task's own question: ${JSON.stringify(row)}`);
    const last = k + 1 === questions.length;
    assert.equal(row.completion, `${k === 0 ? ' 1' : ''}. ${answers.get(own[3]!)}${last ? '' : `\n${k + 2}`}`, 'the completion is the own answer line and the next number');
    questions.forEach((q, i) => {
      if (i === k) return;
      const m = /^(\d+)\. (\S) (.+)$/.exec(q)!;
      assert.equal(Number(m[1]), i + 1);
      const neighbour = markers.get(m[2]!);
      if (neighbour !== undefined) neighbours++;
      const expected = neighbour !== undefined ? neighbour.solve(m[3]!) : m[3]!; // copy questions: their input
      if (i < k) assert.equal(before[i], `${i + 1}. ${expected}`, 'lines before the own one are answered in the prompt');
    });
  }
  assert.ok(neighbours > 0, 'other tasks’ questions appear as neighbours');
  // Absent or 0: single prompts only, as before; other tasks keep theirs.
  assert.deepEqual(loraTrainingExamplesOf(SMALL_WORLD_RECIPE, task), loraTrainingExamples(task, split));
  const parity = getWorldTask('parity');
  assert.deepEqual(loraTrainingExamplesOf(recipe, parity), loraTrainingExamples(parity, taskSplitOf(recipe, parity)));
  assert.throws(() => validateWorldRecipe({ ...recipe, lora: { ...recipe.lora, listRowsByTask: { 'reverse-word': 5 } } }), /listRowsByTask\.reverse-word must be within \[0, 4\]/);
  assert.throws(() => validateWorldRecipe({ ...recipe, lora: { ...recipe.lora, listRowsByTask: { 'no-such-task': 1 } } }), /listRowsByTask names unknown task 'no-such-task'/);
  // The full recipe trains exactly the routing experts on list rows.
  assert.deepEqual(Object.keys(FULL_WORLD_RECIPE.lora.listRowsByTask).sort(), [...ROUTING_EXPERT_TASKS].sort());
});

test('training options follow the recipe; each task gets its own seed, reproducibly', () => {
  const reverse = getWorldTask('reverse-word');
  const add = getWorldTask('add-numbers');
  const a = loraTrainerOptions(FULL_WORLD_RECIPE, reverse);
  assert.deepEqual(loraTrainerOptions(FULL_WORLD_RECIPE, reverse), a);
  assert.notEqual(a.seed, loraTrainerOptions(FULL_WORLD_RECIPE, add).seed);
  assert.equal(a.mode, 'lora');
  assert.equal(a.steps, FULL_WORLD_RECIPE.lora.stepsByTask['reverse-word'] ?? FULL_WORLD_RECIPE.lora.steps);
  assert.equal(a.steps, loraStepsFor(FULL_WORLD_RECIPE, reverse));
  // A per-task step count replaces the default for that task only.
  const longer = { ...FULL_WORLD_RECIPE, lora: { ...FULL_WORLD_RECIPE.lora, stepsByTask: { 'add-numbers': 900 } } };
  assert.equal(loraTrainerOptions(longer, add).steps, 900);
  assert.equal(loraTrainerOptions(longer, reverse).steps, FULL_WORLD_RECIPE.lora.steps);
  // Likewise a per-task learning rate.
  const slower = { ...FULL_WORLD_RECIPE, lora: { ...FULL_WORLD_RECIPE.lora, lr: 4e-3, lrByTask: { 'add-numbers': 1e-3 } } };
  assert.equal(loraTrainerOptions(slower, add).lr, 1e-3);
  assert.equal(loraLrFor(slower, add), 1e-3);
  assert.equal(loraTrainerOptions(slower, reverse).lr, 4e-3);
  assert.deepEqual(a.lora, { r: FULL_WORLD_RECIPE.lora.r, alpha: FULL_WORLD_RECIPE.lora.alpha, targetModules: 'all-linear', init: 'peft-default' });
  const p = pretrainTrainerOptions(FULL_WORLD_RECIPE);
  assert.equal(p.mode, 'full');
  assert.equal(p.packing, FULL_WORLD_RECIPE.pretrain.packing);
  assert.equal(p.maxSeqLen, FULL_WORLD_RECIPE.pretrain.maxSeqLen);
});

test('initial base weights: seeded, every HF weight with the right shape, std as configured', () => {
  const config = worldModelConfig(SMALL_WORLD_RECIPE, smallTokenizer, tokenizerVocabSize(smallFiles));
  assert.equal(config.maxPositionEmbeddings, 128);
  assert.equal(config.headDim * config.numHeads, config.hiddenSize);
  assert.equal(config.bosTokenId, smallTokenizer.bosTokenId);
  const w = initialBaseWeights(config, SMALL_WORLD_RECIPE);
  const shapes = expectedWeightShapes(config);
  assert.deepEqual([...w.keys()].sort(), [...shapes.keys()].sort());
  for (const [name, shape] of shapes) assert.deepEqual(w.get(name)!.shape, shape, name);
  const again = initialBaseWeights(config, SMALL_WORLD_RECIPE);
  assert.deepEqual(again.get('model.layers.0.self_attn.q_proj.weight')!.data, w.get('model.layers.0.self_attn.q_proj.weight')!.data);
  const q = w.get('model.layers.0.self_attn.q_proj.weight')!.data;
  const std = Math.sqrt(q.reduce((s, x) => s + x * x, 0) / q.length);
  assert.ok(Math.abs(std - SMALL_WORLD_RECIPE.base.initStd) < 0.002, `std ${std}`);
  assert.ok(w.get('model.norm.weight')!.data.every((x) => x === 1));
});

test('pretraining examples: copy questions train on their answers only, other documents on every token', () => {
  const recipe = { ...SMALL_WORLD_RECIPE, pretrain: { ...SMALL_WORLD_RECIPE.pretrain, corpusDocuments: 200 } };
  const examples = pretrainCorpus(recipe);
  assert.equal(examples.length, 200);
  const questions = examples.filter((e) => 'prompt' in e);
  assert.ok(questions.length > 80 && questions.length < 160, `${questions.length} question documents`);
  for (const e of questions) {
    assert.ok('prompt' in e && e.prompt.startsWith('Q: ') && e.prompt.endsWith('\nA:'), JSON.stringify(e));
    assert.ok(e.completion.startsWith(' ') && !e.completion.includes('A:'), JSON.stringify(e));
  }
  assert.ok(examples.every((e) => 'prompt' in e || !e.text.startsWith('Q: ')));
  // With the option off, the same documents are plain text, in the same order.
  const whole = pretrainCorpus({ ...recipe, pretrain: { ...recipe.pretrain, answerOnlyCopyLoss: false } });
  assert.deepEqual(whole.map((e) => ('text' in e ? e.text : '')), examples.map((e) => ('prompt' in e ? e.prompt + e.completion : e.text)));
});
