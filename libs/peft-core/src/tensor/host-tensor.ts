/** A dense float32 tensor in host memory, row-major. The exchange type between modules. */
export interface HostTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function hostTensor(shape: readonly number[], data?: Float32Array | readonly number[]): HostTensor {
  const size = numel(shape);
  const buf = data === undefined ? new Float32Array(size) : data instanceof Float32Array ? data : Float32Array.from(data);
  if (buf.length !== size) throw new RangeError(`tensor of shape [${shape.join(', ')}] needs ${size} values, got ${buf.length}`);
  return { shape: [...shape], data: buf };
}
