export * from './data';
export * from './loss';
export * from './train-graph';
export * from './lora-setup';
export * from './checkpoint';
export * from './trainer';
export * from './export';
