export * from './kernel-tensor';
export * from './devices';
export * from './session-options';
export * from './session';
export * from './onnx-proto';
export * from './matmul-peak';
