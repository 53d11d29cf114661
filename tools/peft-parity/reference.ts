/**
 * Writes what our engine computes on the evaluation world, for peft_parity.py to recompute with
 * Hugging Face transformers + PEFT (PyTorch) and compare: the world's base and adapters are saved
 * in their layouts (config.json + model.safetensors, adapter_config.json +
 * adapter_model.safetensors), so PEFT loads them as they are.
 *
 * - `batch`: one heterogeneous continuous batch (BatchDecoder, the router's decoder): held-out
 *   prompts of each expert task with its adapter, plus base-only rows, in one admit. PEFT runs the
 *   same rows as one mixed batch (`adapter_names`).
 * - `mixtures`: the experts combined by each deterministic combination method (combineAdapters),
 *   weights 1/n; PEFT builds its own with `add_weighted_adapter`. DARE is left out (random masks).
 * Each row keeps its first step's logits (the batch's own prefill; a prompt forward for mixtures)
 * and its greedy tokens.
 *
 * Usage: node tools/run-ts.js tools/peft-parity/reference.ts [--world DIR] [--out DIR] [--per-task N]
 */
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import {
  combineAdapters,
  encodePrompt,
  generateSplit,
  getWorldTask,
  LlamaModel,
  loadCheckpoint,
  readPeftAdapterDir,
  ROUTING_EXPERT_TASKS,
  type CombinationMethod,
  type LoraWeights,
} from '@palette/peft-core';
import { loadTokenizerDir } from '@palette/peft-core/cli/commands';
import { readManifest } from '../world/world-manifest';

const MAX_NEW_TOKENS = 24;
const MIXTURES: readonly { method: CombinationMethod; density?: number }[] = [{ method: 'cat' }, { method: 'linear' }, { method: 'svd' }, { method: 'ties', density: 0.5 }];

interface Options {
  worldDir: string;
  outDir: string;
  perTask: number;
}

interface ReferenceRow {
  readonly prompt: number[];
  /** Adapter name, or null for the base. */
  readonly adapter: string | null;
  readonly text: string;
  /** Greedy tokens without the stop token (at most MAX_NEW_TOKENS). */
  readonly tokens: number[];
  readonly firstLogits: number[];
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { worldDir: path.resolve('.data/world/full'), outDir: path.resolve('.data/peft-parity'), perTask: 4 };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i]!, argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--world') o.worldDir = path.resolve(value);
    else if (flag === '--out') o.outDir = path.resolve(value);
    else if (flag === '--per-task') {
      o.perTask = Number(value);
      if (!Number.isInteger(o.perTask) || o.perTask < 1) throw new Error(`--per-task must be a positive integer, got '${value}'`);
    } else throw new Error(`unknown flag ${flag}`);
  }
  return o;
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const manifest = await readManifest(o.worldDir);
  if (manifest === undefined) throw new Error(`no world in ${o.worldDir} (npm run eval:world builds it)`);
  const baseDir = path.join(o.worldDir, manifest.base.dir);
  const checkpoint = await loadCheckpoint(baseDir);
  const tokenizer = await loadTokenizerDir(baseDir);
  const eosIds = [checkpoint.config.eosTokenId ?? []].flat();
  const model = LlamaModel.create(checkpoint);
  const adapters = new Map<string, { dir: string; weights: LoraWeights }>();
  for (const id of ROUTING_EXPERT_TASKS) {
    const entry = manifest.tasks.find((t) => t.id === id);
    if (entry === undefined) throw new Error(`the world has no adapter for ${id}`);
    const dir = path.join(o.worldDir, entry.adapterDir);
    adapters.set(id, { dir: path.relative(o.worldDir, dir), weights: (await readPeftAdapterDir(dir, checkpoint.config)).weights });
  }
  const prompts = ROUTING_EXPERT_TASKS.flatMap((id) => {
    const task = getWorldTask(id);
    const held = generateSplit(task, { seed: manifest.recipe.evaluation.splitSeed, train: 0, eval: o.perTask }).eval;
    return held.map((e) => ({ task: id, text: task.prompt(e.input), prompt: encodePrompt(tokenizer, task.prompt(e.input)) }));
  });
  const firstLogits = async (prompt: readonly number[], lora: LoraWeights | undefined): Promise<number[]> => {
    const logits = await model.forward([prompt], lora ? { lora } : {});
    const V = checkpoint.config.vocabSize;
    return Array.from(logits.data.subarray((prompt.length - 1) * V, prompt.length * V));
  };

  // Interleaved so neighbouring rows differ: expert rows with their own adapter, then every task's first prompts on the base.
  const batchRows = [...prompts.map((p) => ({ ...p, adapter: p.task as string | null })), ...prompts.filter((_, i) => i % o.perTask === 0).map((p) => ({ ...p, adapter: null }))];
  // The batch's own prefill logits: the first step of the heterogeneous batch is what is compared.
  const decoder = model.batchDecoder({ keepLogits: true });
  const admitted = (await decoder.admit(batchRows.map((r) => ({ prompt: r.prompt, ...(r.adapter ? { lora: adapters.get(r.adapter)!.weights } : {}) })))).map((t) => ({ id: t.id, token: t.token, logits: Array.from(t.logits!) }));
  const tokens = new Map(admitted.map((t) => [t.id, [t.token]]));
  const finished = (id: number): boolean => {
    const t = tokens.get(id)!;
    return t.length >= MAX_NEW_TOKENS || eosIds.includes(t.at(-1)!);
  };
  decoder.release(decoder.rowIds.filter(finished));
  while (decoder.size > 0) {
    for (const t of await decoder.step()) tokens.get(t.id)!.push(t.token);
    decoder.release(decoder.rowIds.filter(finished));
  }
  const batch: ReferenceRow[] = batchRows.map((r, i) => ({ prompt: r.prompt, adapter: r.adapter, text: r.text, tokens: withoutStop(tokens.get(admitted[i]!.id)!, eosIds), firstLogits: admitted[i]!.logits }));

  const experts = [...adapters.values()].map((a) => ({ weights: a.weights, weight: 1 / adapters.size }));
  const mixtures = [];
  for (const m of MIXTURES) {
    const lora = combineAdapters(experts, m.method, m.density !== undefined ? { density: m.density } : {});
    const generated = await model.generate(prompts.map((p) => p.prompt), { maxNewTokens: MAX_NEW_TOKENS, temperature: 0, stopTokenIds: eosIds, lora });
    const rows: ReferenceRow[] = [];
    for (const [i, p] of prompts.entries()) rows.push({ prompt: p.prompt, adapter: null, text: p.text, tokens: generated[i]!.tokens, firstLogits: await firstLogits(p.prompt, lora) });
    mixtures.push({ ...m, weights: experts.map((e) => e.weight), rows });
  }
  await model.dispose();

  await fsp.mkdir(o.outDir, { recursive: true });
  const file = path.join(o.outDir, 'reference.json');
  await fsp.writeFile(file, JSON.stringify({ baseDir: path.relative(o.worldDir, baseDir), adapters: Object.fromEntries([...adapters].map(([id, a]) => [id, a.dir])), eosTokenIds: eosIds, maxNewTokens: MAX_NEW_TOKENS, batch, mixtures }));
  console.log(`${file}: ${batch.length} heterogeneous batch rows over ${adapters.size} adapters and the base, ${mixtures.length} mixtures × ${prompts.length} prompts`);
}

function withoutStop(tokens: number[], stopIds: readonly number[]): number[] {
  return stopIds.includes(tokens.at(-1)!) ? tokens.slice(0, -1) : tokens;
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
  process.exit(1);
});
