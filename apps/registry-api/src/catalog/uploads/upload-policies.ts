import type { AppConfig } from '../../config/app-config';
import { isBaseModelFileName, isConfigLikeFile } from '../base-models/base-model-files';
import type { BundlePolicy } from './bundle-entry-policy';
import type { MultipartPolicy } from './multipart-receiver';

type Limits = Pick<AppConfig, 'maxUploadBytes' | 'maxConfigBytes'>;

/** Text fields an adapter upload may carry; descriptions and card bodies are the large ones. */
const MAX_FIELD_BYTES = 64 * 1024;
/** A README.md card body in a bundle or as a file part. */
const MAX_CARD_BYTES = 256 * 1024;

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
export const CARD_FILE = 'README.md';

/** File parts of an adapter upload: the two PEFT files (plus an optional card), or one bundle. */
export const ADAPTER_FILE_FIELDS = {
  adapter_config: ADAPTER_CONFIG_FILE,
  adapter_model: ADAPTER_WEIGHTS_FILE,
  readme: CARD_FILE,
} as const;
export const BUNDLE_FIELD = 'bundle';

/**
 * Adapter uploads: adapter_config.json is bounded by MAX_CONFIG_BYTES, weights and bundles by
 * MAX_UPLOAD_BYTES, and the request as a whole by MAX_UPLOAD_BYTES plus the small parts.
 */
export function adapterMultipartPolicy(limits: Limits): MultipartPolicy {
  return {
    fileLimit: (field) => {
      switch (field) {
        case 'adapter_config':
          return limits.maxConfigBytes;
        case 'adapter_model':
        case BUNDLE_FIELD:
          return limits.maxUploadBytes;
        case 'readme':
          return MAX_CARD_BYTES;
        default:
          return undefined;
      }
    },
    maxTotalBytes: limits.maxUploadBytes + limits.maxConfigBytes + MAX_CARD_BYTES,
    maxFiles: 3,
    maxFieldBytes: MAX_FIELD_BYTES,
    maxFields: 12,
  };
}

/** What an adapter bundle may contain. */
export function adapterBundlePolicy(limits: Limits): BundlePolicy {
  return {
    entryLimit: (name) =>
      name === ADAPTER_CONFIG_FILE
        ? limits.maxConfigBytes
        : name === ADAPTER_WEIGHTS_FILE
          ? limits.maxUploadBytes
          : name === CARD_FILE
            ? MAX_CARD_BYTES
            : undefined,
    maxTotalBytes: limits.maxUploadBytes + limits.maxConfigBytes + MAX_CARD_BYTES,
    maxEntries: 8,
  };
}

/**
 * Base model uploads: each file part is named by its field (`config.json`, `model.safetensors`,
 * `model-00001-of-00002.safetensors`, ...). JSON config files are bounded by MAX_CONFIG_BYTES,
 * weights and tokenizer.json by MAX_UPLOAD_BYTES, and so is the request.
 */
export function baseModelMultipartPolicy(limits: Limits): MultipartPolicy {
  return {
    fileLimit: (field) => {
      if (!isBaseModelFileName(field)) return undefined;
      return isConfigLikeFile(field) ? limits.maxConfigBytes : limits.maxUploadBytes;
    },
    maxTotalBytes: limits.maxUploadBytes,
    maxFiles: 64,
    maxFieldBytes: MAX_FIELD_BYTES,
    maxFields: 4,
  };
}
