/**
 * Writes datasets in the same JSONL formats the parser reads, one record per line.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { DatasetChatMessage, DatasetExample } from './records';

export type DatasetRecord =
  | { readonly text: string }
  | { readonly prompt: string; readonly completion: string }
  | { readonly messages: readonly DatasetChatMessage[] };

/** The record an example was read from (minus ignored fields): writing it reads back equal. */
export function exampleToRecord(example: DatasetExample): DatasetRecord {
  switch (example.format) {
    case 'text':
      return { text: example.text };
    case 'prompt-completion':
      return { prompt: example.prompt, completion: example.completion };
    case 'chat':
      return { messages: example.messages.map((m) => ({ role: m.role, content: m.content })) };
  }
}

/** JSON.stringify escapes "\n" inside strings, so each record stays on one line. */
export function toJsonlLine(record: DatasetRecord): string {
  return JSON.stringify(record) + '\n';
}

export function formatJsonl(records: Iterable<DatasetRecord>): string {
  let out = '';
  for (const record of records) out += toJsonlLine(record);
  return out;
}

/** Streams records to `out`, waiting for "drain" when its buffer is full. Returns the count. */
export async function writeJsonl(
  records: Iterable<DatasetRecord> | AsyncIterable<DatasetRecord>,
  out: Writable,
): Promise<number> {
  let count = 0;
  for await (const record of records) {
    if (!out.write(toJsonlLine(record))) await once(out, 'drain');
    count++;
  }
  return count;
}
