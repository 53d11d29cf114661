/**
 * The discriminator as stored next to its source adapter: a PEFT adapter directory plus
 * discriminator.json (how prompts are framed, which tokens answer, and the threshold).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { PeftCoreError } from '../errors';
import { readPeftAdapterDir, writePeftAdapterDir, type PeftAdapter } from '../formats/peft-adapter';

export const DISCRIMINATOR_FILE = 'discriminator.json';
export const DISCRIMINATOR_FORMAT = 'palette.trans-lora.discriminator/v1';

export interface DiscriminatorMeta {
  readonly format: typeof DISCRIMINATOR_FORMAT;
  /** Appended to each prompt before the answer token is scored. */
  readonly question: string;
  readonly answers: { readonly real: string; readonly synthetic: string };
  /** Leading tokens both answers share (fed after the question before scoring). */
  readonly answerPrefixTokenIds: readonly number[];
  /** The first token where each answer differs from the other, under the discriminator's tokenizer. */
  readonly answerTokenIds: { readonly real: number; readonly synthetic: number };
  /** A prompt is called real when p(real) ≥ threshold. */
  readonly threshold: number;
  /** The base it was trained on (its vocabulary and width), to refuse another base at load. */
  readonly base: { readonly family: string; readonly hiddenSize: number; readonly numLayers: number; readonly vocabSize: number };
  readonly training: { readonly realPrompts: number; readonly syntheticPrompts: number; readonly steps: number; readonly finalLoss: number };
}

export interface DiscriminatorArtifact {
  readonly adapter: PeftAdapter;
  readonly meta: DiscriminatorMeta;
}

export async function writeDiscriminatorDir(dir: string, artifact: DiscriminatorArtifact): Promise<void> {
  await writePeftAdapterDir(dir, artifact.adapter);
  await fsp.writeFile(path.join(dir, DISCRIMINATOR_FILE), `${JSON.stringify(artifact.meta, null, 2)}\n`);
}

export async function readDiscriminatorDir(dir: string): Promise<DiscriminatorArtifact> {
  const file = path.join(dir, DISCRIMINATOR_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await fsp.readFile(file, 'utf8'));
  } catch (e) {
    throw new PeftCoreError('ADAPTER_CONFIG_INVALID', `cannot read ${file}: ${(e as Error).message}`);
  }
  const meta = parseDiscriminatorMeta(json, file);
  return { adapter: await readPeftAdapterDir(dir), meta };
}

function parseDiscriminatorMeta(json: unknown, where: string): DiscriminatorMeta {
  const bad = (what: string): PeftCoreError => new PeftCoreError('ADAPTER_CONFIG_INVALID', `${where}: ${what}`);
  if (typeof json !== 'object' || json === null) throw bad('not a JSON object');
  const m = json as Record<string, unknown>;
  if (m['format'] !== DISCRIMINATOR_FORMAT) throw bad(`format must be "${DISCRIMINATOR_FORMAT}", got ${JSON.stringify(m['format'])}`);
  if (typeof m['question'] !== 'string') throw bad('question must be a string');
  const threshold = m['threshold'];
  if (typeof threshold !== 'number' || !(threshold > 0 && threshold < 1)) throw bad('threshold must be a number in (0, 1)');
  const answers = m['answers'] as Record<string, unknown> | undefined;
  if (typeof answers?.['real'] !== 'string' || typeof answers['synthetic'] !== 'string') throw bad('answers.real and answers.synthetic must be strings');
  const ids = m['answerTokenIds'] as Record<string, unknown> | undefined;
  if (!Number.isInteger(ids?.['real']) || !Number.isInteger(ids?.['synthetic']) || ids?.['real'] === ids?.['synthetic']) {
    throw bad('answerTokenIds.real and answerTokenIds.synthetic must be two different integers');
  }
  const prefix = m['answerPrefixTokenIds'];
  if (!Array.isArray(prefix) || !prefix.every((id) => Number.isInteger(id))) throw bad('answerPrefixTokenIds must be an array of integers');
  const base = m['base'] as Record<string, unknown> | undefined;
  for (const k of ['hiddenSize', 'numLayers', 'vocabSize']) if (!Number.isInteger(base?.[k])) throw bad(`base.${k} must be an integer`);
  if (typeof m['training'] !== 'object' || m['training'] === null) throw bad('training must be an object');
  return json as DiscriminatorMeta;
}
