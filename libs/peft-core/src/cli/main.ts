#!/usr/bin/env node
/**
 * `palette`: inspect, generate with, train, merge and convert models and LoRA adapters.
 *
 *   palette inspect <file.safetensors | adapter dir | model dir>
 *   palette generate --model dir [--adapter dir] --prompt text [--max-tokens 32 --temperature 0 --seed 0]
 *   palette train --model dir --data file.jsonl --out dir [--mode lora|full --steps N | --epochs N ...]
 *   palette merge --model dir --adapter dir --out dir [--dtype f32|f16|bf16]
 *   palette convert --in file.safetensors --out file --dtype f16|bf16|f32
 */
import { PeftCoreError } from '../errors';
import { UsageError } from './args';
import { convertCommand, generateCommand, inspectCommand, mergeCommand, trainCommand, type CliOutput } from './commands';

const COMMANDS: Record<string, (argv: readonly string[], io: CliOutput, signal?: AbortSignal) => Promise<void>> = {
  inspect: inspectCommand,
  generate: generateCommand,
  train: trainCommand,
  merge: mergeCommand,
  convert: convertCommand,
};

export const USAGE = `usage: palette <command> [options]
  inspect <file.safetensors | adapter dir | model dir>
  generate --model dir [--adapter dir] --prompt text [--max-tokens N] [--temperature T] [--seed S] [--top-k K] [--top-p P]
  train --model dir --data file.jsonl --out dir [--mode lora|full] [--steps N | --epochs N] [--batch-size B]
        [--grad-accum K] [--lr LR] [--warmup W] [--min-lr LR] [--weight-decay WD] [--max-grad-norm G] [--seed S]
        [--max-seq-len L] [--r R] [--alpha A] [--targets q_proj,v_proj|all-linear] [--init peft-default|gaussian|pissa|lora-ga]
        [--eval-fraction F] [--eval-every N] [--checkpoint-dir dir [--resume]] [--dtype f32|f16|bf16]
  merge --model dir --adapter dir --out dir [--dtype f32|f16|bf16]
  convert --in file.safetensors --out file --dtype f16|bf16|f32`;

/** Runs one command; returns the exit code (0 ok, 1 failed, 2 bad usage). */
export async function runCli(argv: readonly string[], io: CliOutput, signal?: AbortSignal): Promise<number> {
  const [name, ...rest] = argv;
  const command = name !== undefined ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.err(name === undefined || name === '--help' || name === 'help' ? USAGE : `unknown command '${name}'\n${USAGE}`);
    return name === undefined || name === '--help' || name === 'help' ? 0 : 2;
  }
  try {
    await command(rest, io, signal);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`palette ${name}: ${e.message}`);
      return 2;
    }
    if (e instanceof PeftCoreError) {
      io.err(`palette ${name}: ${e.code}: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (require.main === module) {
  const controller = new AbortController();
  // Ctrl-C stops training between steps (a checkpoint is written when --checkpoint-dir is given).
  process.once('SIGINT', () => controller.abort());
  runCli(process.argv.slice(2), { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) }, controller.signal).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
}
