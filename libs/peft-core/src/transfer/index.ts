export * from './base-model';
export * from './synthetic-prompts';
export * from './recombined-prompts';
export * from './discriminator-artifact';
export * from './discriminator';
export * from './transfer-adapter';
export * from './companion-discriminator';
