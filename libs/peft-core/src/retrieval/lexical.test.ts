import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { writeSafetensors } from '../formats/safetensors';
import type { LoraModule, LoraWeights } from '../lora/adapter';
import { hostTensor } from '../tensor/host-tensor';
import { randomModelConfig } from '../testing/random-model';
import { Rng } from '../util/rng';
import { encoderLayoutFor } from './adapter-batch';
import { readRetrieverArtifact, RETRIEVER_TENSORS_FILE, retrieverParamShapes, writeRetrieverArtifact, type RetrieverArtifact } from './artifact';
import { trainRetriever } from './contrastive';
import { combineTextFeatures, DEFAULT_LEXICAL_CONFIG, fitLexicalIdf, LEXICAL_IDF_PARAM, lexicalFeatures, lexicalTerms, lexicalWords, type LexicalConfig } from './lexical';
import { Retriever, topKByCosine } from './retriever';
import type { TextFeatureEncoder } from './text-encoder';
import { weightEncoderConfig } from './weight-encoder';

const small: LexicalConfig = { ...DEFAULT_LEXICAL_CONFIG, buckets: 1024 };
const cos = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + v * b[i]!, 0);

describe('lexical channel', () => {
  it('splits words, keeps symbols as words, and adds bounded character n-grams', () => {
    assert.deepEqual(lexicalWords('Q: % Reverse-me, NOW!'), ['q', ':', '%', 'reverse', '-', 'me', ',', 'now', '!']);
    const terms = lexicalTerms('Spell it', { buckets: 64, maxWordNgram: 2, minCharNgram: 3, maxCharNgram: 4 });
    assert.deepEqual(terms.filter((t) => t.startsWith('w:')), ['w:spell', 'w:it', 'w:spell it']);
    assert.deepEqual(terms.filter((t) => t.startsWith('c:')), ['c:<sp', 'c:spe', 'c:pel', 'c:ell', 'c:ll>', 'c:<spe', 'c:spel', 'c:pell', 'c:ell>', 'c:<it', 'c:it>', 'c:<it>']);
    assert.ok(!lexicalTerms('a % b', small).some((t) => t.startsWith('c:') && t.includes('%')), 'a symbol has no character n-grams');
  });

  it('weights rare terms up, normalises, and scores shared words and stems above unrelated text', () => {
    const docs = ['Count the vowels in a word.', 'Reverse the letters of a word.', 'Add two numbers.'];
    const idf = fitLexicalIdf(docs, small);
    assert.equal(idf.length, small.buckets);
    const f = (s: string) => lexicalFeatures(s, small, idf);
    assert.ok(Math.abs(Math.hypot(...f(docs[0]!)) - 1) < 1e-6);
    assert.ok(f('').every((v) => v === 0), 'no words → zeros');
    assert.ok(cos(f('How many vowel letters?'), f(docs[0]!)) > cos(f('How many vowel letters?'), f(docs[2]!)), 'the stem "vowel" is shared through character n-grams');
    assert.ok(cos(f('reverse it'), f(docs[1]!)) > 0.2);
    // Combined features: the encoder part normalised, then the lexical part.
    const both = combineTextFeatures(Float32Array.from([3, 4]), 'reverse', { config: small, idf });
    assert.equal(both.length, 2 + small.buckets);
    assert.deepEqual([...both.slice(0, 2)].map((v) => Math.round(v * 10) / 10), [0.6, 0.8]);
    assert.equal(combineTextFeatures(Float32Array.from([3, 4]), 'x', undefined).length, 2);
  });

  it('trains a retriever with the channel: it is in the manifest and the tensors, changes the space id, and survives a round trip', async () => {
    // Adapters with random weights and captions whose only signal is their words: a constant text encoder carries none.
    const base = randomModelConfig({ hiddenSize: 16, intermediateSize: 24, vocabSize: 32, numHeads: 2, numKvHeads: 1 });
    const layout = encoderLayoutFor(base, ['q_proj']);
    const rng = new Rng(3);
    const adapter = (): LoraWeights => {
      const modules = new Map<string, LoraModule>();
      for (let l = 0; l < base.numLayers; l++) {
        const p = `model.layers.${l}.self_attn.q_proj`;
        const t = layout.types[0]!;
        modules.set(p, { path: p, A: hostTensor([2, t.inDim], Float32Array.from({ length: 2 * t.inDim }, () => rng.normal())), B: hostTensor([t.outDim, 2], Float32Array.from({ length: 2 * t.outDim }, () => rng.normal())), scaling: 1 });
      }
      return { modules };
    };
    const constant: TextFeatureEncoder = { kind: 'base-model', id: 'constant', featureDim: 4, features: async (texts) => texts.map(() => Float32Array.from([1, 0, 0, 0])), dispose: async () => {} };
    const topics = ['reverse letters backwards', 'uppercase capital letters', 'count vowels number', 'add sum numbers'];
    const adapters = topics.map((t, i) => ({ id: `a${i}`, weights: adapter(), descriptions: [t, `${t.split(' ')[0]} it`] }));
    const options = { steps: 120, batchSize: 4, lr: 1e-2, seed: 1, encoder: { probes: 2, width: 16, heads: 2, ffnWidth: 32 } };
    const withLexical = await trainRetriever({ adapters, layout, textEncoder: constant, options: { ...options, lexical: small } });
    const without = await trainRetriever({ adapters, layout, textEncoder: constant, options: { ...options, steps: 1 } });
    assert.deepEqual(withLexical.manifest.text, { kind: 'base-model', encoderId: 'constant', featureDim: 4, lexical: small });
    assert.equal(withLexical.params.get(LEXICAL_IDF_PARAM)!.length, small.buckets);
    assert.equal(withLexical.params.get('text.proj.weight')!.length, 256 * (4 + small.buckets));
    assert.equal(without.manifest.text.lexical, undefined);
    assert.notEqual(withLexical.manifest.space, without.manifest.space);

    const dir = mkdtempSync(path.join(tmpdir(), 'retriever-lexical-'));
    try {
      await writeRetrieverArtifact(dir, withLexical);
      const back = await readRetrieverArtifact(dir);
      assert.deepEqual(back.params.get(LEXICAL_IDF_PARAM), withLexical.params.get(LEXICAL_IDF_PARAM));
      // The words alone route queries (the encoder's features are the same for every text).
      const retriever = await Retriever.create(back, constant);
      try {
        const z = await retriever.embedAdapters(adapters.map((a) => a.weights));
        const queries = await retriever.embedTexts(['letters backwards', 'capital letters', 'vowels', 'sum']);
        assert.deepEqual(queries.map((q) => topKByCosine(q, z, 1)[0]), [0, 1, 2, 3]);
      } finally {
        await retriever.dispose();
      }
      // An edited IDF is a different space: refused.
      const params = new Map(withLexical.params);
      params.set(LEXICAL_IDF_PARAM, params.get(LEXICAL_IDF_PARAM)!.map((v) => v + 1));
      const tensors = [...params].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: name === LEXICAL_IDF_PARAM ? [data.length] : inferShape(withLexical, name), data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }));
      writeFileSync(path.join(dir, RETRIEVER_TENSORS_FILE), writeSafetensors(tensors, { format: 'pt' }));
      await assert.rejects(readRetrieverArtifact(dir), /does not match its contents/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Shapes of a trained artifact's tensors (from its manifest): used to rewrite the file. */
function inferShape(artifact: RetrieverArtifact, name: string): number[] {
  const m = artifact.manifest;
  return retrieverParamShapes(weightEncoderConfig(m.weightEncoder.layout, m.weightEncoder), m.text.featureDim, m.text.lexical).get(name)!;
}
