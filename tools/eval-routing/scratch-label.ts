import * as path from 'node:path';
import { getWorldTask, labelComposite, sampleComposite, Rng } from '@palette/peft-core';
import { loadTokenizerDir } from '@palette/peft-core/cli/commands';
async function main(): Promise<void> {
  const tok = await loadTokenizerDir(path.join('/tmp/rt2/world', 'base'));
  const tasks = ['uppercase-word', 'caesar-shift', 'digits-to-words'].map(getWorldTask);
  const c = sampleComposite(new Rng(3), tasks, 3);
  const l = labelComposite(tok, c, new Map(tasks.map((t, i) => [t.id, i])), 9);
  console.log(l.ids.map((id, t) => `${JSON.stringify(tok.decode([id]))}:${l.taskLabels[t]}`).join(' '));
}
void main();
