/**
 * The synthetic retrieval world the retrieval tests share: a tiny Llama base whose byte-level BPE
 * tokenizer was trained on the caption words, and TASKS task directions; a task's adapter is its
 * direction plus noise (q_proj, v_proj, rank 4), its description words w(3+8t)…w(10+8t).
 */
import { Rng, Tokenizer, trainByteLevelBpe } from '@palette/peft-core';
import { writeSafetensors, type NamedRawTensor } from '@palette/peft-core/formats/safetensors';
import { TINY_DIMS, adapterConfigJson, buildTinyBaseModel, projectionShape } from '../fixtures/peft-fixtures';

export const BASE = 'tiny-llama';
export const TASKS = 4;
export const R = 4;
export const TARGETS = ['q_proj', 'v_proj'];

/** Task t's caption words: w(3 + 8t) … w(10 + 8t). */
export const words = (task: number): string[] => Array.from({ length: 8 }, (_, i) => `w${3 + task * 8 + i}`);

export interface SyntheticWorld {
  readonly rng: Rng;
  readonly tokenizer: Tokenizer;
  /** config.json, model.safetensors, tokenizer.json, tokenizer_config.json. */
  readonly baseFiles: Map<string, Buffer>;
  readonly configBytes: Buffer;
  /** A fresh adapter of `task` (direction + noise), as safetensors bytes. */
  taskAdapterWeights(task: number): Buffer;
  /** 5 random words of the task's vocabulary. */
  caption(task: number): string;
}

export function buildSyntheticWorld(seed = 11): SyntheticWorld {
  const rng = new Rng(seed);
  const directions = Array.from({ length: TASKS }, () =>
    Array.from({ length: TINY_DIMS.layers }, () =>
      TARGETS.map((m) => {
        const [out, inn] = projectionShape(m);
        return { m, A: Float32Array.from({ length: R * inn }, () => rng.normal()), B: Float32Array.from({ length: out * R }, () => rng.normal()) };
      }),
    ),
  );
  // A byte-level BPE (what peft-core's Tokenizer reads) over the caption words; vocab 256 bytes + 2 specials + merges.
  const tokenizerJson = trainByteLevelBpe(Array.from({ length: TASKS }, (_, task) => words(task).join(' ')), 300, { specialTokens: ['<s>', '</s>'], minFrequency: 1 });
  const tokenizer = Tokenizer.fromJson(tokenizerJson, { bos_token: '<s>', eos_token: '</s>' });
  const baseFiles = new Map(buildTinyBaseModel({ seed: 3, dims: { ...TINY_DIMS, vocab: 300 } }));
  baseFiles.set('tokenizer.json', Buffer.from(JSON.stringify(tokenizerJson)));
  baseFiles.set('tokenizer_config.json', Buffer.from(JSON.stringify({ bos_token: '<s>', eos_token: '</s>' })));
  return {
    rng,
    tokenizer,
    baseFiles,
    configBytes: Buffer.from(JSON.stringify(adapterConfigJson({ r: R, targetModules: TARGETS, baseModelName: BASE }))),
    taskAdapterWeights(task: number): Buffer {
      const tensors: NamedRawTensor[] = [];
      directions[task]!.forEach((mods, l) => {
        for (const d of mods) {
          const [out, inn] = projectionShape(d.m);
          const A = Float32Array.from(d.A, (v) => v + 0.3 * rng.normal());
          const B = Float32Array.from(d.B, (v) => v + 0.3 * rng.normal());
          tensors.push({ name: `base_model.model.model.layers.${l}.self_attn.${d.m}.lora_A.weight`, dtype: 'F32', shape: [R, inn], data: new Uint8Array(A.buffer) });
          tensors.push({ name: `base_model.model.model.layers.${l}.self_attn.${d.m}.lora_B.weight`, dtype: 'F32', shape: [out, R], data: new Uint8Array(B.buffer) });
        }
      });
      return Buffer.from(writeSafetensors(tensors, { format: 'pt' }));
    },
    caption: (task: number): string => Array.from({ length: 5 }, () => words(task)[rng.int(8)]).join(' '),
  };
}
