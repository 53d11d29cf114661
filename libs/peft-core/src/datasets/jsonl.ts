/**
 * Reads an uploaded JSONL dataset line by line (from a Node Readable, any async iterable of
 * chunks, a string or bytes). The first record fixes the format (or `options.format` does);
 * every later record must match it. Blank lines are skipped but still counted, so line
 * numbers in errors are the ones an editor shows.
 */
import { PeftCoreError } from '../errors';
import { readLines, type LineSource } from './line-reader';
import { detectFormat, parseJsonObject, toExample, type DatasetExample, type DatasetFormat } from './records';

export interface JsonlParseOptions {
  /** Longest accepted line in bytes (default 1 MiB). */
  readonly maxLineBytes?: number;
  /** Most examples accepted (default 1,000,000). */
  readonly maxExamples?: number;
  /** Require this format instead of detecting it from the first record. */
  readonly format?: DatasetFormat;
}

export interface ParsedDataset {
  readonly format: DatasetFormat;
  readonly examples: readonly DatasetExample[];
}

export const DEFAULT_MAX_LINE_BYTES = 1 << 20;
export const DEFAULT_MAX_EXAMPLES = 1_000_000;

/** Yields validated examples as the source is read; throws DATASET_INVALID at the first bad line. */
export async function* iterateJsonlDataset(
  source: LineSource,
  options: JsonlParseOptions = {},
): AsyncGenerator<DatasetExample> {
  const maxLineBytes = positiveInteger(options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, 'maxLineBytes');
  const maxExamples = positiveInteger(options.maxExamples ?? DEFAULT_MAX_EXAMPLES, 'maxExamples');
  let format = options.format;
  let formatSource = 'the required format';
  let count = 0;
  for await (const { number, text } of readLines(source, maxLineBytes)) {
    if (text.trim().length === 0) continue;
    if (count === maxExamples) {
      throw new PeftCoreError(
        'DATASET_INVALID',
        `line ${number}: too many lines: the limit is ${maxExamples} examples`,
        {
          line: number,
          limit: maxExamples,
        },
      );
    }
    const record = parseJsonObject(text, number);
    if (format === undefined) {
      format = detectFormat(record, number);
      formatSource = `line ${number} set the dataset's format, which`;
    }
    count++;
    yield toExample(record, number, format, formatSource);
  }
  if (count === 0) throw new PeftCoreError('DATASET_INVALID', 'empty file: the dataset has no JSON lines', { line: 0 });
}

/** Reads the whole dataset into memory (uploads are bounded by maxExamples × maxLineBytes). */
export async function parseJsonlDataset(source: LineSource, options: JsonlParseOptions = {}): Promise<ParsedDataset> {
  const examples: DatasetExample[] = [];
  for await (const example of iterateJsonlDataset(source, options)) examples.push(example);
  return { format: examples[0].format, examples };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0)
    throw new PeftCoreError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${value}`);
  return value;
}
