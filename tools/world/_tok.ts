import { FULL_WORLD_RECIPE, worldTokenizer, worldTokenizerFiles, pretrainCorpus, tokenizeExample } from '@palette/peft-core';
const files = worldTokenizerFiles(FULL_WORLD_RECIPE);
const tok = worldTokenizer(files);
const corpus = pretrainCorpus({ ...FULL_WORLD_RECIPE, pretrain: { ...FULL_WORLD_RECIPE.pretrain, corpusDocuments: 6 } });
for (const ex of corpus) {
  const t = tokenizeExample(tok, ex);
  console.log(JSON.stringify(ex), t.ids.map((id, i) => `${JSON.stringify(tok.decode([id]))}${t.lossMask[i] ? '*' : ''}`).join(' '));
}
