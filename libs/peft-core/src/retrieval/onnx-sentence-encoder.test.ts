import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { Graph } from '../graph/graph';
import { emitOnnx } from '../graph/onnx-emit';
import { tensorData } from '../graph/tensor-data';
import { OnnxSentenceEncoder } from './onnx-sentence-encoder';
import { WordPieceTokenizer } from './wordpiece';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'hello', 'world', '##s', '!', 'un', '##able'];
const tokenizerJson = {
  normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
  pre_tokenizer: { type: 'BertPreTokenizer' },
  model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(VOCAB.map((t, i) => [t, i])) },
  post_processor: {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '[CLS]' } }, { Sequence: { id: 'A' } }, { SpecialToken: { id: '[SEP]' } }],
    special_tokens: { '[CLS]': { ids: [2] }, '[SEP]': { ids: [3] } },
  },
};

describe('WordPiece tokenizer', () => {
  const tok = WordPieceTokenizer.fromJson(tokenizerJson);

  it('normalises, splits punctuation and matches the longest pieces', () => {
    assert.deepEqual(tok.encode('Héllo,  WORLDS!'), [2, 4, 1, 5, 6, 7, 3]);
    assert.deepEqual(tok.encode('unable unx'), [2, 8, 9, 1, 3]);
  });

  it('truncates the text part and keeps the specials', () => {
    assert.deepEqual(tok.encode('hello hello hello hello', 4), [2, 4, 4, 3]);
  });

  it('refuses models it cannot run', () => {
    assert.throws(() => WordPieceTokenizer.fromJson({ ...tokenizerJson, model: { ...tokenizerJson.model, type: 'Unigram' } }), /model type "Unigram" is not supported/);
    assert.throws(() => WordPieceTokenizer.fromJson({ ...tokenizerJson, model: { ...tokenizerJson.model, unk_token: '<unk>' } }), /not in the vocabulary/);
  });
});

describe('ONNX sentence encoder', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'onnx-encoder-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const H = 3;
  const table = Float32Array.from({ length: VOCAB.length * H }, (_, i) => Math.sin(i + 1));

  it('mean-pools the token states of real tokens only (a BERT-shaped graph from our emitter)', async () => {
    // last_hidden_state = embedding(input_ids): the pooled feature is then the mean of table rows.
    const g = new Graph();
    const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
    g.input('attention_mask', 'int64', ['batch', 'seq']);
    g.output('last_hidden_state', g.gather(g.initializer('embeddings', tensorData('float32', [VOCAB.length, H], table)), ids));
    writeFileSync(path.join(dir, 'model.onnx'), emitOnnx(g).bytes);
    writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));

    const encoder = await OnnxSentenceEncoder.fromDirectory(dir);
    try {
      assert.equal(encoder.featureDim, H);
      assert.match(encoder.id, /^onnx:[0-9a-f]{12}$/);
      // Two texts of different lengths in one batch: the short one is padded.
      const [long, short] = await encoder.features(['hello worlds!', 'hello']);
      const mean = (tokens: number[]) => Array.from({ length: H }, (_, d) => tokens.reduce((s, t) => s + table[t * H + d]!, 0) / tokens.length);
      const close = (a: Float32Array, b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) < 1e-6);
      assert.ok(close(long!, mean([2, 4, 5, 6, 7, 3])), `long: ${[...long!]}`);
      assert.ok(close(short!, mean([2, 4, 3])), `short: ${[...short!]} (padding leaked into the mean?)`);
    } finally {
      await encoder.dispose();
    }
  });
});
