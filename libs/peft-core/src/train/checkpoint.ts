/**
 * Training checkpoints: everything needed to continue a run bit-exactly.
 *
 * On disk a checkpoint is a directory with
 * - `trainer_state.json`: step, sampler position (epoch, cursor, order, RNG state), per-parameter
 *   optimizer step counts, the loss history, and the caller's run description (hyperparameters);
 * - `trainer_tensors.safetensors` (F32, bit-exact): `param/<name>` trainable parameters,
 *   `adam_m/<name>` and `adam_v/<name>` AdamW moments, and `base/<name>` for base weights the run
 *   changed (PiSSA / LoRA-GA residual bases), so a resumed run needs only the original checkpoint,
 *   and `init/<name>` the LoRA factors at init of those methods (for the conversion to plain LoRA).
 */
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { PeftCoreError } from '../errors';
import { encodeFromFloat32 } from '../formats/dtype';
import { SafetensorsFile, writeSafetensorsFile, type TensorSource } from '../formats/safetensors';
import type { AdamWState } from '../optim/adamw';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import type { SamplerState } from './data';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const TRAINER_TENSORS_FILE = 'trainer_tensors.safetensors';
const FORMAT_VERSION = 1;

export interface TrainingCheckpoint {
  /** Optimizer steps completed. */
  readonly step: number;
  readonly params: ReadonlyMap<string, HostTensor>;
  readonly optimizer: AdamWState;
  readonly sampler: SamplerState;
  /** Base weights that differ from the loaded base (residual bases of PiSSA / LoRA-GA). */
  readonly baseOverrides: ReadonlyMap<string, HostTensor>;
  /** The LoRA factors at init of residual-base methods, by parameter name (empty otherwise). */
  readonly initialFactors: ReadonlyMap<string, HostTensor>;
  /** Training loss of every completed step, in order. */
  readonly losses: readonly number[];
  /** The run's description (hyperparameters, mode), checked by the trainer on resume. */
  readonly run: Readonly<Record<string, unknown>>;
}

interface StateJson {
  formatVersion: number;
  step: number;
  sampler: SamplerState;
  optimizerSteps: Record<string, number>;
  params: Record<string, number[]>;
  baseOverrides: Record<string, number[]>;
  initialFactors: Record<string, number[]>;
  losses: number[];
  run: Record<string, unknown>;
}

function invalid(message: string): PeftCoreError {
  return new PeftCoreError('CHECKPOINT_INVALID', `training checkpoint: ${message}`);
}

const f32Source = (name: string, t: HostTensor): TensorSource => ({ name, dtype: 'F32', shape: t.shape, data: () => encodeFromFloat32('F32', t.data) });

/** Writes a checkpoint directory (tensors first, state last, so a state file implies complete tensors). */
export async function saveTrainingCheckpoint(dir: string, ckpt: TrainingCheckpoint): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  const sources: TensorSource[] = [];
  const shapes = (m: ReadonlyMap<string, HostTensor>): Record<string, number[]> => Object.fromEntries([...m].map(([n, t]) => [n, [...t.shape]]));
  for (const [name, t] of ckpt.params) {
    const st = ckpt.optimizer.params[name];
    if (st === undefined) throw invalid(`no optimizer state for parameter ${name}`);
    sources.push(f32Source(`param/${name}`, t));
    sources.push(f32Source(`adam_m/${name}`, hostTensor(t.shape, st.expAvg)));
    sources.push(f32Source(`adam_v/${name}`, hostTensor(t.shape, st.expAvgSq)));
  }
  for (const [name, t] of ckpt.baseOverrides) sources.push(f32Source(`base/${name}`, t));
  for (const [name, t] of ckpt.initialFactors) sources.push(f32Source(`init/${name}`, t));
  await writeSafetensorsFile(path.join(dir, TRAINER_TENSORS_FILE), sources, { format: 'palette-trainer' });
  const state: StateJson = {
    formatVersion: FORMAT_VERSION,
    step: ckpt.step,
    sampler: ckpt.sampler,
    optimizerSteps: Object.fromEntries(Object.entries(ckpt.optimizer.params).map(([n, s]) => [n, s.step])),
    params: shapes(ckpt.params),
    baseOverrides: shapes(ckpt.baseOverrides),
    initialFactors: shapes(ckpt.initialFactors),
    losses: [...ckpt.losses],
    run: { ...ckpt.run },
  };
  const tmp = path.join(dir, `${TRAINER_STATE_FILE}.tmp`);
  await fsp.writeFile(tmp, JSON.stringify(state) + '\n');
  await fsp.rename(tmp, path.join(dir, TRAINER_STATE_FILE));
}

export async function loadTrainingCheckpoint(dir: string): Promise<TrainingCheckpoint> {
  let state: StateJson;
  const statePath = path.join(dir, TRAINER_STATE_FILE);
  try {
    state = JSON.parse(await fsp.readFile(statePath, 'utf8')) as StateJson;
  } catch (e) {
    throw invalid(`cannot read ${statePath}: ${(e as Error).message}`);
  }
  if (state.formatVersion !== FORMAT_VERSION) throw invalid(`${statePath} has format version ${state.formatVersion}, expected ${FORMAT_VERSION}`);
  const file = await SafetensorsFile.open(path.join(dir, TRAINER_TENSORS_FILE));
  try {
    const read = async (name: string, shape: readonly number[]): Promise<HostTensor> => {
      const t = await file.readTensor(name);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw invalid(`${name} has shape [${t.shape.join(', ')}], the state file says [${shape.join(', ')}]`);
      }
      return t;
    };
    const params = new Map<string, HostTensor>();
    const optimizer: Record<string, AdamWState['params'][string]> = {};
    for (const [name, shape] of Object.entries(state.params)) {
      params.set(name, await read(`param/${name}`, shape));
      const step = state.optimizerSteps[name];
      if (step === undefined) throw invalid(`no optimizer step count for ${name}`);
      optimizer[name] = { step, expAvg: (await read(`adam_m/${name}`, shape)).data, expAvgSq: (await read(`adam_v/${name}`, shape)).data };
    }
    const baseOverrides = new Map<string, HostTensor>();
    for (const [name, shape] of Object.entries(state.baseOverrides)) baseOverrides.set(name, await read(`base/${name}`, shape));
    const initialFactors = new Map<string, HostTensor>();
    for (const [name, shape] of Object.entries(state.initialFactors)) initialFactors.set(name, await read(`init/${name}`, shape));
    return { step: state.step, params, optimizer: { params: optimizer }, sampler: state.sampler, baseOverrides, initialFactors, losses: state.losses, run: state.run };
  } finally {
    await file.close();
  }
}
