/**
 * Getting trained weights out: a LoRA as a PEFT adapter directory, a LoRA merged into (and
 * unmerged from) its base, and a fully trained base as a Hugging Face checkpoint directory.
 */
import type { FloatDtype } from '../formats/dtype';
import { saveCheckpoint } from '../formats/checkpoint';
import type { ModelConfig } from '../formats/model-config';
import { createAdapterConfig, createPeftAdapter, writePeftAdapterDir, type PeftAdapter } from '../formats/peft-adapter';
import { PeftCoreError } from '../errors';
import type { LoraWeights } from '../lora/adapter';
import { mergeIntoBase, unmergeFromBase } from '../lora/merge';
import { hostTensor, type HostTensor } from '../tensor/host-tensor';
import { convertResidualLora, resolveTargetModules, type LoraSpec } from './lora-setup';

export interface AdapterExportOptions {
  readonly spec: LoraSpec;
  readonly base: ModelConfig;
  /** Written as base_model_name_or_path. */
  readonly baseModelName?: string;
  /** Storage dtype (default F32). */
  readonly dtype?: FloatDtype;
}

/**
 * A PEFT adapter (adapter_config.json fields + tensors) for trained LoRA weights. The config says
 * what PEFT needs to rebuild the same ΔW: r, lora_alpha, target_modules, use_rslora. Every module
 * must have rank spec.r (use `residualAdapterForOriginalBase` for PiSSA / LoRA-GA results).
 */
export function toPeftAdapter(weights: LoraWeights, options: AdapterExportOptions): PeftAdapter {
  const { spec } = options;
  const ranks = new Set([...weights.modules.values()].map((m) => m.A.shape[0]));
  if (ranks.size !== 1) throw new PeftCoreError('INVALID_ARGUMENT', `toPeftAdapter: modules have different ranks ${[...ranks].join(', ')}`);
  const r = [...ranks][0]!;
  // Keep the scaling when the rank changed (the pissa → lora conversion doubles it).
  const alpha = r === spec.r ? spec.alpha : (spec.rsLoRA ? spec.alpha * Math.sqrt(r / spec.r) : (spec.alpha * r) / spec.r);
  const config = createAdapterConfig({
    r,
    lora_alpha: alpha,
    target_modules: resolveTargetModules(spec),
    lora_dropout: spec.dropout ?? 0,
    bias: 'none',
    use_rslora: spec.rsLoRA ?? false,
    init_lora_weights: r === spec.r ? peftInitName(spec) : true,
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: options.baseModelName ?? null,
  });
  return createPeftAdapter(config, weights, { base: options.base, ...(options.dtype ? { dtype: options.dtype } : {}) });
}

function peftInitName(spec: LoraSpec): boolean | string {
  switch (spec.init) {
    case 'peft-default':
      return true;
    case 'gaussian':
      return 'gaussian';
    case 'pissa':
      return 'pissa';
    case 'lora-ga':
      // PEFT has no such init value; a plain LoRA config loads the trained factors unchanged.
      return true;
  }
}

export async function exportPeftAdapter(dir: string, weights: LoraWeights, options: AdapterExportOptions): Promise<PeftAdapter> {
  const adapter = toPeftAdapter(weights, options);
  await writePeftAdapterDir(dir, adapter);
  return adapter;
}

/**
 * The adapter of a residual-base run (PiSSA / LoRA-GA) rewritten for the original base (rank 2r,
 * same ΔW; see convertResidualLora). Use this to publish: the residual base never leaves the run.
 */
export function residualAdapterForOriginalBase(trained: LoraWeights, initial: LoraWeights): LoraWeights {
  return convertResidualLora(trained, initial);
}

function copyWeights(weights: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of weights) out.set(name, hostTensor(t.shape, t.data.slice()));
  return out;
}

function baseWeightOf(weights: Map<string, HostTensor>, path: string): HostTensor {
  const t = weights.get(`${path}.weight`);
  if (t === undefined) throw new PeftCoreError('ADAPTER_INCOMPATIBLE', `the base has no ${path}.weight for the adapter's module`);
  return t;
}

/** A copy of the base with every module's ΔW = s·B·A folded in (f64 accumulation, one rounding). */
export function mergeAdapter(weights: ReadonlyMap<string, HostTensor>, lora: LoraWeights): Map<string, HostTensor> {
  const out = copyWeights(weights);
  for (const [path, m] of lora.modules) {
    if (m.magnitude !== undefined) throw new PeftCoreError('UNSUPPORTED', `${path}: DoRA adapters are not merged here`);
    mergeIntoBase(baseWeightOf(out, path).data, m);
  }
  return out;
}

/** A copy of a merged model with the adapter taken out again (exact up to f32 rounding). */
export function unmergeAdapter(weights: ReadonlyMap<string, HostTensor>, lora: LoraWeights): Map<string, HostTensor> {
  const out = copyWeights(weights);
  for (const [path, m] of lora.modules) unmergeFromBase(baseWeightOf(out, path).data, m);
  return out;
}

/** A trained base (full mode) as a Hugging Face checkpoint directory. */
export async function exportModel(dir: string, config: ModelConfig, weights: ReadonlyMap<string, HostTensor>, dtype: FloatDtype = 'F32'): Promise<void> {
  await saveCheckpoint(dir, config, weights, { dtype });
}
