/**
 * How jobs name files: every file a job reads or writes is an immutable blob in the object store,
 * addressed by the sha256 of its bytes. A set of files (a Hugging Face model directory, a PEFT
 * adapter) is a map from the file's name in that directory to its blob address.
 */
import { object, recordOf, required, string, type Infer } from './validation';

/** A blob address: the sha256 of the bytes, 64 lowercase hex digits (the object store's format). */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;

export function isSha256(value: string): boolean {
  return SHA256_PATTERN.test(value);
}

export const sha256Schema = string({ pattern: SHA256_PATTERN, patternName: 'a blob address (sha256 as 64 lowercase hex digits)' });

/**
 * A relative file name inside a model or adapter directory: plain segments joined by `/`,
 * no `.`/`..` segments and no leading slash, so materialising the files cannot escape the directory.
 */
export const FILE_NAME_PATTERN = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/;

/** Hugging Face model directory: config.json, tokenizer.json, and model.safetensors (or shards + index). */
export const MODEL_CONFIG_FILE = 'config.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

export const modelFilesSchema = recordOf(sha256Schema, {
  keyPattern: FILE_NAME_PATTERN,
  keyPatternName: 'a relative file name (letters, digits, _ . -, segments joined by /)',
  requiredKeys: [MODEL_CONFIG_FILE, TOKENIZER_FILE],
});
/** A Hugging Face model directory as blobs: file name → blob address. */
export type ModelFiles = Infer<typeof modelFilesSchema>;

export const adapterFilesSchema = object({
  [ADAPTER_CONFIG_FILE]: required(sha256Schema),
  [ADAPTER_WEIGHTS_FILE]: required(sha256Schema),
});
/** A PEFT adapter directory as blobs. */
export type AdapterFiles = Infer<typeof adapterFilesSchema>;

/** A file a job produced: where it is and how big. */
export interface StoredFile {
  readonly sha256: string;
  readonly size: number;
}
