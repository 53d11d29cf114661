export * from './errors';
export * from './tensor/host-tensor';
export * from './formats/model-config';
export * from './lora/adapter';
export * from './util/rng';
