import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compile } from '../graph/compile';
import { Graph } from '../graph/graph';
import { tensorData } from '../graph/tensor-data';
import { inverse, matmul } from '../linalg';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { hostTensor } from '../tensor/host-tensor';
import { randomCheckpoint, randomModelConfig } from '../testing/random-model';
import { Rng } from '../util/rng';
import { encoderLayoutFor } from './adapter-batch';
import { readRetrieverArtifact, RETRIEVER_MANIFEST_FILE, writeRetrieverArtifact, type RetrieverArtifact } from './artifact';
import { symmetricInfoNce, trainRetriever, type ContrastiveProgress, type RetrieverTrainingAdapter } from './contrastive';
import { Retriever, topKByCosine } from './retriever';
import { BaseModelTextEncoder } from './text-encoder';

/** −log softmax along rows and along columns, in f64. */
function referenceInfoNce(s: number[][]): number {
  const n = s.length;
  const ce = (row: number[], target: number): number => {
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((acc, v) => acc + Math.exp(v - max), 0));
    return lse - row[target]!;
  };
  let rows = 0;
  let cols = 0;
  for (let i = 0; i < n; i++) {
    rows += ce(s[i]!, i);
    cols += ce(s.map((r) => r[i]!), i);
  }
  return rows / n + cols / n;
}

describe('symmetric InfoNCE', () => {
  it('matches a plain-TS computation', async () => {
    const rng = new Rng(5);
    const n = 5;
    const s = Array.from({ length: n }, () => Array.from({ length: n }, () => 3 * rng.normal()));
    const g = new Graph();
    const sim = g.input('s', 'float64', [n, n]);
    const diag = g.input('diag', 'int64', [n]);
    g.output('loss', symmetricInfoNce(g, sim, diag));
    const run = await compile(g, { graphOptimization: 'basic' });
    const out = await run.run({ s: tensorData('float64', [n, n], s.flat()), diag: tensorData('int64', [n], [0, 1, 2, 3, 4]) });
    await run.dispose();
    const got = out.loss!.data[0] as number;
    assert.ok(Math.abs(got - referenceInfoNce(s)) < 1e-9, `graph ${got}, reference ${referenceInfoNce(s)}`);
  });
});

// A synthetic world: 8 tasks. Each task has a direction (per adapted module, factors A_t, B_t)
// and a vocabulary of 5 caption words. An adapter of a task = its direction + noise, written in a
// random basis (A' = M·A, B' = B·M⁻¹) at a random global scale; a caption = 6 words of its task.
const TASKS = 8;
const base = randomModelConfig({ hiddenSize: 32, intermediateSize: 48, vocabSize: 64, numHeads: 4, numKvHeads: 2 });
const layout = encoderLayoutFor(base, ['q_proj', 'v_proj']);
const R = 2;
const rng = new Rng(42);
const gaussian = (n: number, std: number): Float64Array => Float64Array.from({ length: n }, () => std * rng.normal());
const directions = Array.from({ length: TASKS }, () =>
  layout.types.flatMap((t) => Array.from({ length: base.numLayers }, (_, l) => ({ path: `model.layers.${l}.self_attn.${t.name}`, t, A: gaussian(R * t.inDim, 1), B: gaussian(t.outDim * R, 1) }))),
);

function taskAdapter(task: number): LoraWeights {
  const modules = new Map<string, LoraModule>();
  const scale = Math.exp(rng.normal());
  for (const d of directions[task]!) {
    const M = Float64Array.from({ length: R * R }, (_, i) => (i % (R + 1) === 0 ? 1 : 0) + 0.3 * rng.normal());
    const A = matmul(M, d.A.map((v) => v + 0.5 * rng.normal()), R, R, d.t.inDim);
    const B = matmul(d.B.map((v) => v + 0.5 * rng.normal()), inverse(M, R), d.t.outDim, R, R);
    modules.set(d.path, { path: d.path, A: hostTensor([R, d.t.inDim], Float32Array.from(A)), B: hostTensor([d.t.outDim, R], Float32Array.from(B)), scaling: scale });
  }
  return { modules };
}

const caption = (task: number): string => Array.from({ length: 6 }, () => `w${2 + task * 6 + rng.int(5)}`).join(' ');
const wordTokenizer = { encode: (text: string) => text.split(' ').map((w) => Number(w.slice(1))) };

describe('contrastive retriever training', () => {
  let textEncoder: BaseModelTextEncoder;
  let artifact: RetrieverArtifact;
  const progress: ContrastiveProgress[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'retriever-'));
  const train: RetrieverTrainingAdapter[] = [];
  for (let task = 0; task < TASKS; task++) {
    for (let j = 0; j < 4; j++) train.push({ id: `t${task}-${j}`, weights: taskAdapter(task), descriptions: Array.from({ length: 4 }, () => caption(task)) });
  }

  before(async () => {
    textEncoder = await BaseModelTextEncoder.create({ config: base, weights: randomCheckpoint(base, 3), tokenizer: wordTokenizer, id: 'random-base', bosTokenId: 1 });
    artifact = await trainRetriever({
      adapters: train,
      layout,
      textEncoder,
      options: { steps: 150, batchSize: 16, lr: 3e-3, seed: 1, encoder: { probes: 2, width: 32, heads: 4, ffnWidth: 64 } },
      onProgress: (p) => progress.push(p),
    });
  });
  after(async () => {
    await textEncoder.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports progress every step and lowers the loss', () => {
    assert.equal(progress.length, 150);
    assert.deepEqual(progress.map((p) => p.step), Array.from({ length: 150 }, (_, i) => i + 1));
    const mean = (ps: ContrastiveProgress[]) => ps.reduce((s, p) => s + p.loss, 0) / ps.length;
    assert.ok(mean(progress.slice(-10)) < 0.5 * mean(progress.slice(0, 10)), `loss ${mean(progress.slice(0, 10))} → ${mean(progress.slice(-10))}`);
    assert.match(artifact.manifest.space, /^autolora-v1-[0-9a-f]{12}$/);
  });

  it('retrieves unseen adapters of the right task from unseen captions (recall@1 ≥ 0.9)', async () => {
    const retriever = await Retriever.create(artifact, textEncoder);
    try {
      const heldOut = Array.from({ length: TASKS * 2 }, (_, i) => ({ task: i % TASKS, weights: taskAdapter(i % TASKS) }));
      const zLora = await retriever.embedAdapters(heldOut.map((a) => a.weights));
      const queries = Array.from({ length: TASKS * 5 }, (_, i) => ({ task: i % TASKS, text: caption(i % TASKS) }));
      const zText = await retriever.embedTexts(queries.map((q) => q.text));
      let hits = 0;
      queries.forEach((q, i) => {
        const [best] = topKByCosine(zText[i]!, zLora, 1);
        if (heldOut[best!]!.task === q.task) hits++;
      });
      const recall = hits / queries.length;
      assert.ok(recall >= 0.9, `recall@1 = ${recall}`);
    } finally {
      await retriever.dispose();
    }
  });

  it('is deterministic for a seed', async () => {
    const again = await trainRetriever({ adapters: train, layout, textEncoder, options: { steps: 3, seed: 1, encoder: { probes: 2, width: 32, heads: 4, ffnWidth: 64 } } });
    const twice = await trainRetriever({ adapters: train, layout, textEncoder, options: { steps: 3, seed: 1, encoder: { probes: 2, width: 32, heads: 4, ffnWidth: 64 } } });
    assert.equal(again.manifest.space, twice.manifest.space);
    assert.notEqual(again.manifest.space, artifact.manifest.space);
  });

  it('writes and reads the artifact, and refuses edited files', async () => {
    await writeRetrieverArtifact(dir, artifact);
    const back = await readRetrieverArtifact(dir);
    assert.equal(back.manifest.space, artifact.manifest.space);
    assert.deepEqual([...back.params.keys()].sort(), [...artifact.params.keys()].sort());
    for (const [name, data] of artifact.params) assert.deepEqual(back.params.get(name), data);

    const manifestPath = path.join(dir, RETRIEVER_MANIFEST_FILE);
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { weightEncoder: { width: number }; space: string };
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, space: 'autolora-v1-000000000000' }));
    await assert.rejects(readRetrieverArtifact(dir), /does not match its contents/);
    writeFileSync(manifestPath, JSON.stringify({ ...manifest, weightEncoder: { ...manifest.weightEncoder, width: 48 } }));
    await assert.rejects(readRetrieverArtifact(dir), /enc\.proj\.q_proj\.weight has/);
  });

  it('refuses a text encoder other than the one it was trained with', async () => {
    const other = { kind: 'base-model', id: 'another-base', featureDim: 32, features: async () => [], dispose: async () => {} };
    await assert.rejects(Retriever.create(artifact, other), /was trained with text encoder base-model:random-base/);
  });
});
