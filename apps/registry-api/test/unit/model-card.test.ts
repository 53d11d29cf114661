import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderModelCard, stripFrontMatter } from '../../src/catalog/cards/model-card';

describe('renderModelCard', () => {
  const base = {
    adapterName: 'legal-de',
    version: 3,
    baseModel: 'tiny-llama',
    tags: ['legal', 'german', 'lora'],
    description: 'Summarises German legal contracts.',
    rank: 8,
    targetModules: ['q_proj', 'v_proj'],
  };

  it('starts with Hugging Face front matter naming the base model, peft and the tags', () => {
    const card = renderModelCard(base);
    const front = /^---\n([\s\S]*?)\n---\n/.exec(card);
    assert.ok(front, 'front matter block');
    assert.deepEqual(front[1].split('\n'), [
      'base_model: "tiny-llama"',
      'library_name: peft',
      'tags:',
      '- "peft"',
      '- "lora"',
      '- "legal"',
      '- "german"',
    ]);
    assert.match(card, /# legal-de \(v3\)\n\nSummarises German legal contracts\./);
    assert.match(card, /- Target modules: `q_proj`, `v_proj`/);
  });

  it('quotes values that would break YAML', () => {
    const card = renderModelCard({ ...base, baseModel: 'org/model: "x" #1', tags: ['- dash'] });
    assert.match(card, /^base_model: "org\/model: \\"x\\" #1"$/m);
    assert.match(card, /^- "- dash"$/m);
  });

  it('appends an uploaded card body without its own front matter', () => {
    const card = renderModelCard({ ...base, body: '---\nlicense: mit\n---\n## Training\nThree epochs.' });
    assert.equal(card.match(/^---$/gm)?.length, 2, 'exactly one front matter block');
    assert.match(card, /## Training\nThree epochs\.\n$/);
  });

  it('says when there is no description', () => {
    assert.match(renderModelCard({ ...base, description: '  ' }), /_No description provided\._/);
  });

  it('stripFrontMatter leaves plain markdown alone', () => {
    assert.equal(stripFrontMatter('# Title\ntext'), '# Title\ntext');
  });
});
