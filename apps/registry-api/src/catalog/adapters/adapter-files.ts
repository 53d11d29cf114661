import type { AppConfig } from '../platform';
import { catalogErrors } from '../catalog-errors';
import { detectBundleKind, extractBundle } from '../uploads/bundle-extractor';
import type { StoredTempFile } from '../uploads/hashing-file-writer';
import type { ReceivedMultipart } from '../uploads/multipart-receiver';
import type { TempWorkspace } from '../uploads/temp-workspace';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, BUNDLE_FIELD, CARD_FILE, adapterBundlePolicy } from '../uploads/upload-policies';

/** The files of one adapter upload, in the temp workspace, whichever way they arrived. */
export interface AdapterTempFiles {
  readonly config: StoredTempFile;
  readonly weights: StoredTempFile;
  readonly card?: StoredTempFile;
}

/**
 * Accepts either the PEFT files as separate parts (adapter_config, adapter_model, optional readme)
 * or one bundle part (.tar.gz or .zip, recognised by its bytes), never both.
 */
export async function resolveAdapterFiles(
  received: ReceivedMultipart,
  workspace: TempWorkspace,
  limits: Pick<AppConfig, 'maxUploadBytes' | 'maxConfigBytes'>,
): Promise<AdapterTempFiles> {
  const bundle = received.files.get(BUNDLE_FIELD);
  if (bundle) {
    if (received.files.size > 1) {
      throw catalogErrors.invalid(`send either a '${BUNDLE_FIELD}' or the separate adapter files, not both`);
    }
    const kind = await detectBundleKind(bundle.path);
    if (!kind) {
      throw catalogErrors.unsupportedMedia(`bundle '${bundle.fileName || BUNDLE_FIELD}' is neither a .tar.gz nor a .zip archive`);
    }
    const files = await extractBundle(bundle.path, kind, workspace, adapterBundlePolicy(limits));
    return requireBoth(files.get(ADAPTER_CONFIG_FILE), files.get(ADAPTER_WEIGHTS_FILE), files.get(CARD_FILE), 'bundle');
  }
  return requireBoth(received.files.get('adapter_config'), received.files.get('adapter_model'), received.files.get('readme'), 'upload');
}

function requireBoth(
  config: StoredTempFile | undefined,
  weights: StoredTempFile | undefined,
  card: StoredTempFile | undefined,
  where: 'bundle' | 'upload',
): AdapterTempFiles {
  const part = (field: string, file: string) => (where === 'bundle' ? file : `${file} (field '${field}')`);
  if (!config && !weights) {
    throw catalogErrors.invalid(`${where} has no adapter files: expected ${part('adapter_config', ADAPTER_CONFIG_FILE)} and ${part('adapter_model', ADAPTER_WEIGHTS_FILE)}${where === 'upload' ? ` or a '${BUNDLE_FIELD}'` : ''}`);
  }
  if (!config) throw catalogErrors.invalid(`${where} is missing ${part('adapter_config', ADAPTER_CONFIG_FILE)}`, { file: ADAPTER_CONFIG_FILE });
  if (!weights) throw catalogErrors.invalid(`${where} is missing ${part('adapter_model', ADAPTER_WEIGHTS_FILE)}`, { file: ADAPTER_WEIGHTS_FILE });
  return { config, weights, card };
}
