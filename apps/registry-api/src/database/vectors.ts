/** Every embedding space in the registry has this many dimensions (Embedding.vector is vector(256)). */
export const EMBEDDING_DIMENSIONS = 256;

export class VectorShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VectorShapeError';
  }
}

/**
 * pgvector's text form ('[1,2,3]') of a 256-dim vector, for raw SQL: `${vectorLiteral(v)}::vector`.
 * Rejects wrong lengths and non-finite values here rather than as an opaque SQL error.
 */
export function vectorLiteral(values: ArrayLike<number>, dimensions: number = EMBEDDING_DIMENSIONS): string {
  if (values.length !== dimensions) {
    throw new VectorShapeError(`vector has ${values.length} dimensions, expected ${dimensions}`);
  }
  const parts: string[] = new Array<string>(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (!Number.isFinite(value)) throw new VectorShapeError(`vector component ${i} is ${value}, expected a finite number`);
    parts[i] = String(value);
  }
  return `[${parts.join(',')}]`;
}

/** Parses pgvector's text output (`SELECT "vector"::text`) into a Float32Array. */
export function parseVector(text: string): Float32Array {
  const trimmed = text.trim();
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']')) throw new VectorShapeError(`not a pgvector literal: ${text.slice(0, 40)}`);
  const body = trimmed.slice(1, -1).trim();
  if (body === '') return new Float32Array(0);
  return Float32Array.from(body.split(',').map(Number));
}
