import { ApiError, describeError } from '../api/http';

/** The upload form's fields, as the registry names them. */
export type UploadField = 'name' | 'baseModel' | 'description' | 'tags' | 'adapter_config' | 'adapter_model';
export type FieldErrors = Partial<Record<UploadField, string>>;

export interface UploadDraft {
  readonly name: string;
  readonly baseModel: string;
  readonly description: string;
  readonly tags: string;
  readonly config: File | null;
  readonly weights: File | null;
}

// Same rules as registry-api's catalog-input (NAME_PATTERN, TAG_PATTERN), checked before sending.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const TAG = /^[a-z0-9][a-z0-9._:-]{0,63}$/;

/** What can be told without the server: names, tags, files present and the config being JSON. */
export async function validateUploadDraft(draft: UploadDraft): Promise<FieldErrors> {
  const errors: FieldErrors = {};
  if (!NAME.test(draft.name)) errors.name = 'Use 1–128 letters, digits, “.”, “_” or “-”, starting with a letter or digit.';
  if (draft.baseModel === '') errors.baseModel = 'Choose the base model this adapter was trained on.';
  const badTags = splitTags(draft.tags).filter((t) => !TAG.test(t));
  if (badTags.length > 0) errors.tags = `Not a valid tag: ${badTags.join(', ')} (lower-case letters, digits, “.”, “_”, “:” or “-”).`;
  if (draft.config === null) errors.adapter_config = 'Choose the adapter_config.json file.';
  else {
    try {
      const parsed: unknown = JSON.parse(await draft.config.text());
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) errors.adapter_config = 'adapter_config.json must hold a JSON object.';
    } catch {
      errors.adapter_config = 'This file is not valid JSON.';
    }
  }
  if (draft.weights === null) errors.adapter_model = 'Choose the adapter_model.safetensors file.';
  else if (draft.weights.size < 8) errors.adapter_model = 'This file is too small to be a safetensors file.';
  return errors;
}

export function splitTags(text: string): string[] {
  return text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}

/**
 * Puts a rejected upload's message next to the field it is about: the field the registry named,
 * else the file or setting its message mentions; undefined when it is about none of them.
 */
export function fieldOfServerError(error: unknown): UploadField | undefined {
  if (error instanceof ApiError && error.field !== undefined && isUploadField(error.field)) return error.field;
  // peft-core's codes say which file broke a rule (ADAPTER_CONFIG_INVALID, ADAPTER_TENSORS_INVALID, …).
  if (error instanceof ApiError && error.code.startsWith('ADAPTER_CONFIG')) return 'adapter_config';
  if (error instanceof ApiError && (error.code.startsWith('ADAPTER_TENSORS') || error.code.startsWith('SAFETENSORS'))) return 'adapter_model';
  const message = describeError(error).toLowerCase();
  if (message.includes('adapter_config') || message.includes('lora_alpha') || message.includes('target_modules') || message.includes('peft_type')) return 'adapter_config';
  if (message.includes('adapter_model') || message.includes('safetensors') || message.includes('tensor') || message.includes('lora_a') || message.includes('lora_b')) return 'adapter_model';
  if (message.includes('base model')) return 'baseModel';
  if (message.includes('tag')) return 'tags';
  return undefined;
}

function isUploadField(field: string): field is UploadField {
  return ['name', 'baseModel', 'description', 'tags', 'adapter_config', 'adapter_model'].includes(field);
}
