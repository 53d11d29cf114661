import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { FULL_WORLD_RECIPE, exportModel, randomCheckpoint, tokenizerVocabSize, worldModelConfig, worldTokenizer, worldTokenizerFiles } from '@palette/peft-core';
async function main(): Promise<void> {
  const out = process.argv[2]!;
  const files = worldTokenizerFiles(FULL_WORLD_RECIPE);
  const tok = worldTokenizer(files);
  const config = worldModelConfig(FULL_WORLD_RECIPE, tok, tokenizerVocabSize(files));
  const baseDir = path.join(out, 'base');
  await fsp.mkdir(baseDir, { recursive: true });
  await fsp.writeFile(path.join(baseDir, 'tokenizer.json'), JSON.stringify(files.tokenizerJson) + '\n');
  await fsp.writeFile(path.join(baseDir, 'tokenizer_config.json'), JSON.stringify(files.tokenizerConfig, null, 2) + '\n');
  await exportModel(baseDir, config, randomCheckpoint(config, 1));
}
void main();
