import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { dumpGraph, gradients, Graph, nn } from '../../src/graph';

/** Set UPDATE_SNAPSHOTS=1 to rewrite the files after an intended change; review the diff. */
const DIR = path.join(__dirname, '..', 'snapshots');

function matchSnapshot(name: string, text: string): void {
  const file = path.join(DIR, `${name}.txt`);
  if (process.env.UPDATE_SNAPSHOTS === '1' || !fs.existsSync(file)) {
    fs.mkdirSync(DIR, { recursive: true });
    fs.writeFileSync(file, text);
  }
  assert.equal(text, fs.readFileSync(file, 'utf8'), `dump differs from ${file}`);
}

const graphs: Record<string, () => Graph> = {
  'mlp-train-step': () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['batch', 4]);
    const w1 = g.input('w1', 'float32', [8, 4]);
    const w2 = g.input('w2', 'float32', [2, 8]);
    const target = g.input('target', 'int64', ['batch']);
    const logits = nn.linear(g, g.relu(nn.linear(g, x, w1)), w2);
    const loss = nn.crossEntropy(g, logits, target);
    g.output('loss', loss);
    gradients(g, loss, [w1, w2]).forEach((d, i) => g.output(`grad_w${i + 1}`, d));
    return g;
  },
  'lora-attention-forward': () => {
    const g = new Graph();
    const h = g.input('h', 'float32', ['batch', 'seq', 8]);
    const mask = g.input('mask', 'float32', ['seq', 'seq']);
    const wq = g.input('w_q', 'float32', [8, 8]);
    const loraA = g.input('lora_A', 'float32', [2, 8]);
    const loraB = g.input('lora_B', 'float32', [8, 2]);
    const q = g.add(nn.linear(g, h, wq), g.mul(nn.linear(g, nn.linear(g, h, loraA), loraB), 0.5));
    const heads = g.transpose(g.reshape(q, ['batch', 'seq', 2, 4]), [0, 2, 1, 3]);
    const ctx = nn.attention(g, heads, heads, heads, { mask });
    g.output('out', g.reshape(g.transpose(ctx, [0, 2, 1, 3]), ['batch', 'seq', 8]));
    return g;
  },
};

describe('graph dumps match committed snapshots', () => {
  for (const [name, build] of Object.entries(graphs)) {
    it(name, () => {
      const text = dumpGraph(build());
      assert.equal(text, dumpGraph(build()), 'dump is deterministic');
      matchSnapshot(name, text);
    });
  }
});
