/** The model sizes and batch shape shared by the engine benchmark and the training profiler. */
import type { ModelConfig } from '../src/formats/model-config';
import { randomModelConfig } from '../src/testing/random-model';

export const BENCH_BATCH = 4;
export const BENCH_SEQ = 128;
export const BENCH_RANK = 16;

export interface BenchModel {
  readonly name: string;
  readonly config: ModelConfig;
}

export const BENCH_MODELS: readonly BenchModel[] = [
  { name: '~10M', config: randomModelConfig({ vocabSize: 8192, hiddenSize: 256, intermediateSize: 704, numLayers: 6, numHeads: 8, numKvHeads: 4, headDim: 32, maxPositionEmbeddings: 512 }) },
  { name: '~100M', config: randomModelConfig({ vocabSize: 16384, hiddenSize: 768, intermediateSize: 2048, numLayers: 10, numHeads: 12, numKvHeads: 4, headDim: 64, maxPositionEmbeddings: 512 }) },
];
