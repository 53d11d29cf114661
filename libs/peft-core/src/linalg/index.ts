export * from './dense';
export * from './qr';
export * from './svd';
export * from './truncated-svd';
export * from './solve';
