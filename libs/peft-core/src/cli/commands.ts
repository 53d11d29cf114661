/**
 * The palette CLI's subcommands. Each takes parsed arguments and an output sink, so tests drive
 * them in-process; main.ts only dispatches and maps errors to exit codes.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PeftCoreError } from '../errors';
import { CONFIG_FILE, loadCheckpoint, saveCheckpoint } from '../formats/checkpoint';
import { encodeFromFloat32, isFloatDtype, type FloatDtype } from '../formats/dtype';
import { architectureSummary, parseModelConfig } from '../formats/hf-config';
import { LINEAR_MODULES, type LinearModule } from '../formats/model-config';
import { ADAPTER_CONFIG_FILE, readPeftAdapterDir } from '../formats/peft-adapter';
import { readSafetensors, tensorToFloat32, writeSafetensorsFile, type TensorSource } from '../formats/safetensors';
import type { LoraInitMethod } from '../lora/init';
import { LlamaModel } from '../model/llama-model';
import { Tokenizer, type TokenizerConfigJson } from '../tokenizer';
import { loadTrainingCheckpoint } from '../train/checkpoint';
import { parseJsonlDataset } from '../datasets/jsonl';
import { chatFormatterOf } from '../datasets/render';
import { encodePrompt, splitTrainEval, trainingExampleOf, type TrainingExample } from '../train/data';
import { exportModel, exportPeftAdapter, mergeAdapter, residualAdapterForOriginalBase } from '../train/export';
import type { LoraSpec } from '../train/lora-setup';
import { Trainer, type TrainerOptions } from '../train/trainer';
import { parseArgs, UsageError } from './args';

/** Where a command writes: stdout lines and stderr lines. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json'];

async function isDirectory(p: string): Promise<boolean> {
  return (await fsp.stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

async function exists(p: string): Promise<boolean> {
  return (await fsp.stat(p).catch(() => undefined)) !== undefined;
}

/** tokenizer.json (and tokenizer_config.json for BOS/EOS when present) from a model directory. */
export async function loadTokenizerDir(dir: string): Promise<Tokenizer> {
  const file = path.join(dir, 'tokenizer.json');
  if (!(await exists(file))) throw new PeftCoreError('TOKENIZER_INVALID', `${dir} has no tokenizer.json`);
  const json: unknown = JSON.parse(await fsp.readFile(file, 'utf8'));
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = (await exists(configFile)) ? (JSON.parse(await fsp.readFile(configFile, 'utf8')) as TokenizerConfigJson) : undefined;
  return Tokenizer.fromJson(json, config);
}

async function copyTokenizerFiles(from: string, to: string): Promise<void> {
  for (const f of TOKENIZER_FILES) if (await exists(path.join(from, f))) await fsp.copyFile(path.join(from, f), path.join(to, f));
}

function parseDtype(name: string): FloatDtype {
  const map: Record<string, FloatDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16', float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
  const d = map[name.toLowerCase()];
  if (d === undefined) throw new UsageError(`--dtype must be f32, f16 or bf16, got '${name}'`);
  return d;
}

// ---- inspect ------------------------------------------------------------------------------------

export async function inspectCommand(argv: readonly string[], io: CliOutput): Promise<void> {
  const args = parseArgs(argv, { values: [] });
  const target = args.positionals[0];
  if (target === undefined) throw new UsageError('inspect needs a path: a .safetensors file, an adapter directory or a model directory');
  if (!(await isDirectory(target))) {
    const bytes = new Uint8Array(await fsp.readFile(target));
    const { header, metadata } = readSafetensors(bytes);
    io.out(`${target}: safetensors, ${header.tensors.size} tensors, ${bytes.byteLength} bytes`);
    if (Object.keys(metadata).length > 0) io.out(`metadata: ${JSON.stringify(metadata)}`);
    let total = 0;
    for (const [name, info] of header.tensors) {
      total += info.shape.reduce((a, b) => a * b, 1);
      io.out(`  ${name}  ${info.dtype}  [${info.shape.join(', ')}]`);
    }
    io.out(`parameters: ${total}`);
    return;
  }
  if (await exists(path.join(target, ADAPTER_CONFIG_FILE))) {
    const adapter = await readPeftAdapterDir(target);
    const c = adapter.config;
    let params = 0;
    for (const m of adapter.weights.modules.values()) params += m.A.data.length + m.B.data.length;
    io.out(`${target}: PEFT LoRA adapter`);
    io.out(`  r ${c.r}, lora_alpha ${c.loraAlpha}, rsLoRA ${c.useRslora}, DoRA ${c.useDora}`);
    io.out(`  target_modules ${JSON.stringify(c.targetModules)}, base ${c.baseModelNameOrPath ?? '(unset)'}`);
    io.out(`  modules ${adapter.weights.modules.size}, parameters ${params}`);
    return;
  }
  if (await exists(path.join(target, CONFIG_FILE))) {
    const config = parseModelConfig(JSON.parse(await fsp.readFile(path.join(target, CONFIG_FILE), 'utf8')));
    const s = architectureSummary(config);
    io.out(`${target}: ${s.family} decoder`);
    io.out(`  layers ${s.layers}, hidden ${s.hiddenSize}, intermediate ${s.intermediateSize}, heads ${s.heads}/${s.kvHeads} (head_dim ${s.headDim})`);
    io.out(`  vocab ${s.vocabSize}, context ${s.contextLength}, tied embeddings ${s.tiedEmbeddings}, dtype ${s.dtype}`);
    io.out(`  parameters ${s.parameters}`);
    io.out(`  tokenizer ${(await exists(path.join(target, 'tokenizer.json'))) ? 'tokenizer.json' : '(none)'}`);
    return;
  }
  throw new UsageError(`${target} is neither a .safetensors file, an adapter directory (${ADAPTER_CONFIG_FILE}) nor a model directory (${CONFIG_FILE})`);
}

// ---- generate -----------------------------------------------------------------------------------

export async function generateCommand(argv: readonly string[], io: CliOutput): Promise<void> {
  const args = parseArgs(argv, { values: ['model', 'adapter', 'prompt', 'max-tokens', 'temperature', 'seed', 'top-k', 'top-p'] });
  const modelDir = args.required('model');
  const prompt = args.required('prompt');
  const checkpoint = await loadCheckpoint(modelDir);
  const tokenizer = await loadTokenizerDir(modelDir);
  const adapterDir = args.string('adapter');
  const lora = adapterDir !== undefined ? (await readPeftAdapterDir(adapterDir, checkpoint.config)).weights : undefined;
  const model = LlamaModel.create(checkpoint);
  try {
    const stop = tokenizer.eosTokenId !== undefined ? [tokenizer.eosTokenId] : [];
    const topK = args.integer('top-k');
    const topP = args.number('top-p');
    const result = await model.generate(encodePrompt(tokenizer, prompt), {
      maxNewTokens: args.integer('max-tokens') ?? 32,
      temperature: args.number('temperature') ?? 0,
      seed: args.integer('seed') ?? 0,
      stopTokenIds: stop,
      ...(topK !== undefined ? { topK } : {}),
      ...(topP !== undefined ? { topP } : {}),
      ...(lora ? { lora } : {}),
    });
    io.out(tokenizer.decode(result.tokens, { skipSpecialTokens: true }));
    io.err(`[${result.tokens.length} tokens, finish: ${result.finishReason}]`);
  } finally {
    await model.dispose();
  }
}

// ---- train --------------------------------------------------------------------------------------

const TRAIN_FLAGS = [
  'model', 'data', 'out', 'mode', 'steps', 'epochs', 'batch-size', 'grad-accum', 'lr', 'warmup', 'min-lr', 'weight-decay',
  'max-grad-norm', 'seed', 'max-seq-len', 'r', 'alpha', 'targets', 'init', 'eval-fraction', 'eval-every', 'checkpoint-dir', 'dtype',
];

function parseTargets(value: string | undefined): LoraSpec['targetModules'] {
  if (value === undefined) return ['q_proj', 'v_proj'];
  if (value === 'all-linear') return 'all-linear';
  const names = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const n of names) if (!LINEAR_MODULES.includes(n as LinearModule)) throw new UsageError(`--targets: '${n}' is not one of ${LINEAR_MODULES.join(', ')} (or all-linear)`);
  return names as LinearModule[];
}

function parseInit(value: string | undefined): LoraInitMethod {
  const v = value ?? 'peft-default';
  if (v !== 'peft-default' && v !== 'gaussian' && v !== 'pissa' && v !== 'lora-ga') throw new UsageError(`--init must be peft-default, gaussian, pissa or lora-ga, got '${v}'`);
  return v;
}

/** A JSONL dataset (text, prompt-completion or chat records) as training examples; errors name the file and line. */
async function readTrainingData(file: string, tokenizer: Tokenizer): Promise<TrainingExample[]> {
  try {
    const { examples } = await parseJsonlDataset(createReadStream(file));
    const formatChat = chatFormatterOf(tokenizer);
    return examples.map((e) => trainingExampleOf(e, formatChat));
  } catch (e) {
    if (e instanceof PeftCoreError) throw new PeftCoreError(e.code, `${file}: ${e.message}`, e.details);
    throw e;
  }
}

export async function trainCommand(argv: readonly string[], io: CliOutput, signal?: AbortSignal): Promise<void> {
  const args = parseArgs(argv, { values: TRAIN_FLAGS, switches: ['resume'] });
  const modelDir = args.required('model');
  const outDir = args.required('out');
  const dataFile = args.required('data');
  const mode = args.string('mode') ?? 'lora';
  if (mode !== 'lora' && mode !== 'full') throw new UsageError(`--mode must be lora or full, got '${mode}'`);
  const checkpoint = await loadCheckpoint(modelDir);
  const tokenizer = await loadTokenizerDir(modelDir);
  const examples = await readTrainingData(dataFile, tokenizer);
  const seed = args.integer('seed') ?? 0;
  const split = splitTrainEval(examples, args.number('eval-fraction') ?? 0, seed);
  const steps = args.integer('steps');
  const epochs = args.integer('epochs');
  const spec: LoraSpec = { r: args.integer('r') ?? 8, alpha: args.number('alpha') ?? 16, targetModules: parseTargets(args.string('targets')), init: parseInit(args.string('init')) };
  const options: TrainerOptions = {
    mode,
    ...(steps !== undefined || epochs === undefined ? { steps: steps ?? 100 } : { epochs }),
    batchSize: args.integer('batch-size') ?? 8,
    gradAccumulation: args.integer('grad-accum') ?? 1,
    lr: args.number('lr') ?? (mode === 'lora' ? 2e-4 : 1e-3),
    warmupSteps: args.integer('warmup') ?? 0,
    minLr: args.number('min-lr') ?? 0,
    weightDecay: args.number('weight-decay') ?? 0,
    maxGradNorm: args.number('max-grad-norm') ?? 1,
    seed,
    evalEvery: args.integer('eval-every') ?? 0,
    ...(args.integer('max-seq-len') !== undefined ? { maxSeqLen: args.integer('max-seq-len') } : {}),
    ...(mode === 'lora' ? { lora: spec } : {}),
  };
  const checkpointDir = args.string('checkpoint-dir');
  const resume = args.has('resume') ? await loadTrainingCheckpoint(requireFlag(checkpointDir, '--resume needs --checkpoint-dir')) : undefined;
  const trainer = await Trainer.create({ ...checkpoint, tokenizer, train: split.train, eval: split.eval, options, ...(resume ? { resume } : {}) });
  try {
    io.err(`training ${mode === 'lora' ? `LoRA r=${spec.r} on ${JSON.stringify(spec.targetModules)}` : 'all weights'}: ${split.train.length} train / ${split.eval.length} eval examples, ${trainer.totalSteps} steps, seq ${trainer.seqLen}`);
    const result = await trainer.train({
      ...(signal ? { signal } : {}),
      onProgress: (e) =>
        io.err(
          `step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ${e.tokensPerSecond.toFixed(0)} tok/s  eta ${e.etaSeconds.toFixed(0)}s${e.evalLoss !== undefined ? `  eval ${e.evalLoss.toFixed(4)}` : ''}`,
        ),
    });
    if (checkpointDir !== undefined) await trainer.saveCheckpoint(checkpointDir);
    if (result.status === 'aborted') {
      io.err(`stopped at step ${result.step}${checkpointDir !== undefined ? `; checkpoint in ${checkpointDir}` : ''}`);
      return;
    }
    const evalLoss = await trainer.evaluate();
    await fsp.mkdir(outDir, { recursive: true });
    if (mode === 'full') {
      await exportModel(outDir, checkpoint.config, trainer.baseWeights(), parseDtype(args.string('dtype') ?? 'f32'));
      await copyTokenizerFiles(modelDir, outDir);
    } else {
      // Residual-base inits are published as plain LoRA for the original base (rank 2r).
      const weights = trainer.usesResidualBase ? residualAdapterForOriginalBase(trainer.loraWeights(), requireFlag(trainer.initialLora, 'initial factors missing')) : trainer.loraWeights();
      await exportPeftAdapter(outDir, weights, { spec, base: checkpoint.config, baseModelName: path.resolve(modelDir), dtype: parseDtype(args.string('dtype') ?? 'f32') });
    }
    io.out(JSON.stringify({ out: outDir, steps: result.step, finalLoss: result.losses[result.losses.length - 1], ...(evalLoss !== undefined ? { evalLoss } : {}) }));
  } finally {
    await trainer.dispose();
  }
}

function requireFlag<T>(v: T | undefined, message: string): T {
  if (v === undefined) throw new UsageError(message);
  return v;
}

// ---- merge --------------------------------------------------------------------------------------

export async function mergeCommand(argv: readonly string[], io: CliOutput): Promise<void> {
  const args = parseArgs(argv, { values: ['model', 'adapter', 'out', 'dtype'] });
  const modelDir = args.required('model');
  const outDir = args.required('out');
  const checkpoint = await loadCheckpoint(modelDir);
  const adapter = await readPeftAdapterDir(args.required('adapter'), checkpoint.config);
  const merged = mergeAdapter(checkpoint.weights, adapter.weights);
  await saveCheckpoint(outDir, checkpoint.config, merged, { dtype: parseDtype(args.string('dtype') ?? 'f32') });
  await copyTokenizerFiles(modelDir, outDir);
  io.out(`merged ${adapter.weights.modules.size} modules into ${outDir}`);
}

// ---- convert ------------------------------------------------------------------------------------

export async function convertCommand(argv: readonly string[], io: CliOutput): Promise<void> {
  const args = parseArgs(argv, { values: ['in', 'out', 'dtype'] });
  const input = args.required('in');
  const output = args.required('out');
  const dtype = parseDtype(args.required('dtype'));
  const { tensors, metadata } = readSafetensors(new Uint8Array(await fsp.readFile(input)));
  const sources: TensorSource[] = [];
  let converted = 0;
  for (const [name, t] of tensors) {
    if (isFloatDtype(t.dtype) && t.dtype !== dtype) {
      converted++;
      sources.push({ name, dtype, shape: t.shape, data: () => encodeFromFloat32(dtype, tensorToFloat32(t, name).data) });
    } else {
      // Integer tensors and tensors already in the target dtype are copied byte for byte.
      sources.push({ name, dtype: t.dtype, shape: t.shape, data: t.data });
    }
  }
  await writeSafetensorsFile(output, sources, metadata);
  io.out(`wrote ${output}: ${tensors.size} tensors, ${converted} converted to ${dtype}`);
}
