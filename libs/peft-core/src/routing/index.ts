export * from './router-artifact';
export * from './optimize';
export * from './meteora-train';
export * from './flylora';
export * from './xcross-train';
export * from './routed-model';
export * from './random-router';
export * from './train-router';
