import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export function sha256Of(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a stream to the end and returns its sha256 and byte count without keeping the bytes. */
export async function hashStream(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * A stream of `size` random bytes produced chunk by chunk (never held whole), and a promise
 * of its sha256 that resolves once the stream has been fully read.
 */
export function generatedStream(size: number, chunkSize = 1024 * 1024): { stream: Readable; sha256: Promise<string> } {
  const hash = createHash('sha256');
  let resolveHash: (sha: string) => void = () => undefined;
  const sha256 = new Promise<string>((resolve) => (resolveHash = resolve));
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let remaining = size; remaining > 0; remaining -= chunkSize) {
      const chunk = randomBytes(Math.min(chunkSize, remaining));
      hash.update(chunk);
      yield chunk;
    }
    resolveHash(hash.digest('hex'));
  }
  return { stream: Readable.from(chunks(), { objectMode: false }), sha256 };
}
