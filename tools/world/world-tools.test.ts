import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FULL_WORLD_RECIPE, SMALL_WORLD_RECIPE } from '@palette/peft-core';
import { parseWorldCli } from './cli-options';
import { printWorldReport } from './report';
import { readManifest, recipeFingerprint, writeManifest, type WorldManifest } from './world-manifest';

test('CLI: variant, output dir, task subset and field overrides', () => {
  const plain = parseWorldCli([]);
  assert.equal(plain.recipe, FULL_WORLD_RECIPE);
  assert.ok(plain.worldDir.endsWith(path.join('.data', 'world', 'full')));
  const cli = parseWorldCli(['--small', '--out', '/tmp/x', '--tasks', 'parity,reverse-word', '--set', 'lora.steps=33', '--set', 'pretrain.lr=0.002', '--rebuild']);
  assert.equal(cli.worldDir, '/tmp/x');
  assert.equal(cli.rebuild, true);
  assert.deepEqual(cli.recipe.tasks, ['parity', 'reverse-word']);
  assert.equal(cli.recipe.lora.steps, 33);
  assert.equal(cli.recipe.pretrain.lr, 0.002);
  assert.equal(cli.recipe.base, SMALL_WORLD_RECIPE.base);
  assert.equal(SMALL_WORLD_RECIPE.lora.steps, 80, 'overrides copy, never mutate the shared recipe');
  assert.throws(() => parseWorldCli(['--set', 'lora.nope=1']), /'lora\.nope' is not a recipe field/);
  // A per-task map is set as JSON.
  assert.deepEqual(parseWorldCli(['--set', 'lora.listRowsByTask={"reverse-word":0.3}']).recipe.lora.listRowsByTask, { 'reverse-word': 0.3 });
  assert.throws(() => parseWorldCli(['--variant', 'huge']), /--variant must be full or small/);
  assert.throws(() => parseWorldCli(['--frobnicate']), /unknown option '--frobnicate'/);
});

test('manifest: fingerprint follows the recipe; write is atomic and reads back; absent is undefined', async () => {
  assert.equal(recipeFingerprint(FULL_WORLD_RECIPE), recipeFingerprint({ ...FULL_WORLD_RECIPE }));
  assert.notEqual(recipeFingerprint(FULL_WORLD_RECIPE), recipeFingerprint({ ...FULL_WORLD_RECIPE, lora: { ...FULL_WORLD_RECIPE.lora, steps: 1 } }));
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'world-manifest-'));
  try {
    assert.equal(await readManifest(dir), undefined);
    const manifest: WorldManifest = {
      variant: 'small',
      recipeFingerprint: recipeFingerprint(SMALL_WORLD_RECIPE),
      recipe: SMALL_WORLD_RECIPE,
      base: { dir: 'base', vocabSize: 258, parameters: 10, pretrainFinalLoss: 2 },
      tasks: [],
      timings: { tokenizerSeconds: 0, pretrainSeconds: 1, adaptersSeconds: 2, buildSeconds: 3 },
      machine: { cpus: 2, loadAverage: [1, 1, 1], builtAt: 'now' },
    };
    await writeManifest(dir, manifest);
    assert.deepEqual(await readManifest(dir), manifest);
    assert.deepEqual((await fsp.readdir(dir)).sort(), ['world-manifest.json']);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('report: a world built with --reuse-base (no pretraining loss, null once read back) still prints', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'world-report-'));
  try {
    const manifest: WorldManifest = {
      variant: 'small',
      recipeFingerprint: recipeFingerprint(SMALL_WORLD_RECIPE),
      recipe: SMALL_WORLD_RECIPE,
      base: { dir: 'base', vocabSize: 258, parameters: 10, pretrainFinalLoss: Number.NaN, copyAccuracy: 0.5 },
      tasks: [],
      timings: { tokenizerSeconds: 0, pretrainSeconds: 0, adaptersSeconds: 2, buildSeconds: 2 },
      machine: { cpus: 2, loadAverage: [1, 1, 1], builtAt: 'now' },
    };
    await writeManifest(dir, manifest);
    const readBack = await readManifest(dir);
    assert.equal((readBack!.base as { pretrainFinalLoss: unknown }).pretrainFinalLoss, null);
    const lines: string[] = [];
    printWorldReport(readBack!, (line) => lines.push(line));
    assert.ok(lines.some((l) => l.includes('pretraining loss n/a (base reused from an earlier build), copies 50%')), lines.join('\n'));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
