import { PeftCoreError } from '../errors';
import { matmul } from '../linalg/dense';
import type { LoraModule } from './adapter';

/** The sizes of one LoRA module, checked for consistency: A [r,in], B [out,r]. */
export interface LoraModuleDims {
  readonly out: number;
  readonly in: number;
  readonly r: number;
}

/** Reads and validates a module's shapes; throws SHAPE_MISMATCH naming the module when A and B disagree. */
export function loraModuleDims(module: LoraModule): LoraModuleDims {
  const { A, B, path } = module;
  if (A.shape.length !== 2 || B.shape.length !== 2) {
    throw new PeftCoreError('SHAPE_MISMATCH', `${path}: lora_A and lora_B must be 2-D, got [${A.shape}] and [${B.shape}]`);
  }
  const [r, inFeatures] = A.shape;
  const [out, rB] = B.shape;
  if (r !== rB) {
    throw new PeftCoreError('SHAPE_MISMATCH', `${path}: lora_A has rank ${r} but lora_B has rank ${rB}`);
  }
  if (module.magnitude !== undefined && (module.magnitude.data.length !== out)) {
    throw new PeftCoreError('SHAPE_MISMATCH', `${path}: DoRA magnitude has ${module.magnitude.data.length} entries, expected ${out}`);
  }
  return { out, in: inFeatures, r };
}

/** ΔW = scaling · B·A as f64 [out,in] (the form other LoRA math builds on). */
export function deltaWeightF64(module: LoraModule): Float64Array {
  const { out, in: inFeatures, r } = loraModuleDims(module);
  const d = matmul(module.B.data, module.A.data, out, r, inFeatures);
  const s = module.scaling;
  for (let i = 0; i < d.length; i++) d[i] *= s;
  return d;
}

/** ΔW = scaling · B·A [out,in], accumulated in f64 and rounded once to f32. */
export function deltaWeight(module: LoraModule): Float32Array {
  return Float32Array.from(deltaWeightF64(module));
}

/** LoRA's scaling factor: alpha / r, or alpha / sqrt(r) with rsLoRA (Kalajdzievski 2023), as PEFT computes it. */
export function loraScaling(alpha: number, r: number, useRslora = false): number {
  if (!(r > 0)) throw new PeftCoreError('INVALID_ARGUMENT', `LoRA rank must be positive, got ${r}`);
  return useRslora ? alpha / Math.sqrt(r) : alpha / r;
}
