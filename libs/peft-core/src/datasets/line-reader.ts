/**
 * Splits a byte or text stream into numbered lines without holding more than one line in
 * memory, and refuses a line as soon as it grows past the size limit (a 2 GB line with no
 * newline is rejected after maxLineBytes, not after it has been buffered).
 */
import { PeftCoreError } from '../errors';

/** A Node Readable, a web stream reader's async iterable, an in-memory string or bytes. */
export type LineSource = string | Uint8Array | AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

export interface SourceLine {
  /** 1-based physical line number in the file. */
  readonly number: number;
  /** Without the line terminator ("\n" or "\r\n") and, on line 1, without a UTF-8 BOM. */
  readonly text: string;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const encoder = new TextEncoder();

export async function* readLines(source: LineSource, maxLineBytes: number): AsyncGenerator<SourceLine> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let lineNumber = 1;

  const finishLine = (): SourceLine => {
    const bytes = concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    const end = bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length;
    let text: string;
    try {
      text = decoder.decode(bytes.subarray(0, end));
    } catch {
      throw new PeftCoreError('DATASET_INVALID', `line ${lineNumber}: not valid UTF-8`, { line: lineNumber });
    }
    if (lineNumber === 1 && text.startsWith('\ufeff')) text = text.slice(1);
    return { number: lineNumber++, text };
  };

  const append = (piece: Uint8Array): void => {
    if (pendingBytes + piece.length > maxLineBytes) {
      throw new PeftCoreError('DATASET_INVALID', `line ${lineNumber}: longer than the limit of ${maxLineBytes} bytes`, {
        line: lineNumber,
        limit: maxLineBytes,
      });
    }
    if (piece.length > 0) pending.push(piece);
    pendingBytes += piece.length;
  };

  for await (const chunk of chunksOf(source)) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline < 0) break;
      // The "\n" does not count towards the limit; a "\r" before it does (it is line content
      // until the line ends, and the limit is checked before then).
      append(chunk.subarray(start, newline));
      yield finishLine();
      start = newline + 1;
    }
    append(chunk.subarray(start));
  }
  if (pendingBytes > 0) yield finishLine();
}

async function* chunksOf(source: LineSource): AsyncGenerator<Uint8Array> {
  if (typeof source === 'string') {
    yield encoder.encode(source);
    return;
  }
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  for await (const chunk of source) yield typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
}

function concat(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
