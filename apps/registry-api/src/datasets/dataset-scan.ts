/**
 * Reads a JSONL dataset once, streaming, with peft-core's parser (line-numbered errors): its
 * format, its row count and its train/eval split counts. Examples are counted, never kept, so a
 * dataset at the size limit does not have to fit in memory.
 */
import { createReadStream } from 'node:fs';
import { isEvalExample, iterateJsonlDataset, type DatasetExample, type DatasetFormat } from '@palette/peft-core/datasets/index';
import { PeftCoreError } from '@palette/peft-core/errors';
import { domainErrors } from '../common';

export interface DatasetScan {
  readonly format: DatasetFormat;
  readonly rows: number;
  readonly trainRows: number;
  readonly evalRows: number;
}

/** Yields the examples of a JSONL byte stream in batches (for checks that take a sync Iterable). */
export async function* exampleBatches(source: AsyncIterable<Buffer | string>, batchSize: number): AsyncGenerator<DatasetExample[]> {
  let batch: DatasetExample[] = [];
  try {
    for await (const example of iterateJsonlDataset(source)) {
      batch.push(example);
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
  } catch (err) {
    throw asDatasetError(err);
  }
  if (batch.length > 0) yield batch;
}

export async function scanJsonlFile(path: string, evalFraction: number): Promise<DatasetScan> {
  let format: DatasetFormat | undefined;
  let rows = 0;
  let evalRows = 0;
  for await (const batch of exampleBatches(createReadStream(path), 1024)) {
    for (const example of batch) {
      format ??= example.format;
      rows++;
      if (evalFraction > 0 && isEvalExample(example, { evalFraction })) evalRows++;
    }
  }
  // iterateJsonlDataset throws on an empty file, so format is set here.
  if (format === undefined) throw domainErrors.validation('dataset is empty: it has no JSON lines', { line: 0 });
  if (rows - evalRows === 0) {
    throw domainErrors.validation(`dataset has no training examples left after holding out evalFraction ${evalFraction}`, { rows, evalFraction });
  }
  return { format, rows, trainRows: rows - evalRows, evalRows };
}

/** peft-core's DATASET_INVALID (message starts with "line N: ...") as a 400 naming the line. */
export function asDatasetError(err: unknown): unknown {
  if (err instanceof PeftCoreError && err.code === 'DATASET_INVALID') {
    return domainErrors.validation(`dataset is invalid: ${err.message}`, { line: err.details?.line ?? null, ...err.details });
  }
  return err;
}
