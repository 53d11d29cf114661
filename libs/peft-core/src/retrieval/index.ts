export * from './adapter-batch';
export * from './weight-encoder';
export * from './text-encoder';
export * from './contrastive';
export * from './artifact';
export * from './retriever';
export * from './wordpiece';
export * from './onnx-sentence-encoder';
