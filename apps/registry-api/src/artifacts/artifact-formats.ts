/**
 * The only file of the artifacts module that calls @palette/peft-core: which files each kind of
 * artifact consists of, and the peft-core reader that validates a directory of them. Everything
 * the registry keeps about an artifact's content (its format id, the base and experts a router
 * names, a short manifest summary) comes out of these readers, never from what the client claims.
 */
import type { ArtifactKind } from '@palette/job-contracts';
import { PeftCoreError } from '@palette/peft-core/errors';
import { ROUTER_FORMAT, ROUTER_MANIFEST_FILE, ROUTER_TENSORS_FILE, readRouterArtifact } from '@palette/peft-core/routing/router-artifact';
import { RETRIEVER_FORMAT, RETRIEVER_MANIFEST_FILE, RETRIEVER_TENSORS_FILE, readRetrieverArtifact } from '@palette/peft-core/retrieval/artifact';
import { DISCRIMINATOR_FILE, DISCRIMINATOR_FORMAT, readDiscriminatorDir } from '@palette/peft-core/transfer/discriminator-artifact';
import { DomainError, domainErrors } from '../common';

export interface ArtifactKindRules {
  /** The format id every artifact of this kind has (the manifest's own `format`). */
  readonly format: string;
  /** The manifest: JSON, bounded by MAX_CONFIG_BYTES like other config files. */
  readonly manifest: string;
  /** Every file an artifact of this kind must have, manifest included. Nothing else is accepted. */
  readonly files: readonly string[];
}

export const ARTIFACT_RULES: Readonly<Record<ArtifactKind, ArtifactKindRules>> = {
  router: { format: ROUTER_FORMAT, manifest: ROUTER_MANIFEST_FILE, files: [ROUTER_MANIFEST_FILE, ROUTER_TENSORS_FILE] },
  retriever: { format: RETRIEVER_FORMAT, manifest: RETRIEVER_MANIFEST_FILE, files: [RETRIEVER_MANIFEST_FILE, RETRIEVER_TENSORS_FILE] },
  discriminator: { format: DISCRIMINATOR_FORMAT, manifest: DISCRIMINATOR_FILE, files: [DISCRIMINATOR_FILE, 'adapter_config.json', 'adapter_model.safetensors'] },
};

/** What the registry learnt from a validated artifact directory. */
export interface ArtifactContent {
  readonly format: string;
  /** Router only: the manifest's base model ("name" or "name@version") and experts ("name@version"). */
  readonly router?: { readonly baseModel: string; readonly experts: readonly string[] };
  /** Discriminator only: the dimensions of the base it was trained on. */
  readonly discriminatorBase?: { readonly family: string; readonly hiddenSize: number; readonly numLayers: number; readonly vocabSize: number };
  /** Stored as metadata.manifest: small, readable without downloading the files. */
  readonly summary: Record<string, unknown>;
}

/** Refuses a file set that is not exactly the kind's files, naming what is missing or extra. */
export function checkFileSet(kind: ArtifactKind, names: readonly string[]): void {
  const rules = ARTIFACT_RULES[kind];
  const missing = rules.files.filter((f) => !names.includes(f));
  const extra = names.filter((f) => !rules.files.includes(f));
  if (missing.length > 0 || extra.length > 0) {
    const parts = [missing.length > 0 ? `missing ${missing.join(', ')}` : '', extra.length > 0 ? `unexpected ${extra.join(', ')}` : ''].filter(Boolean);
    throw domainErrors.validation(`a ${kind} artifact consists of ${rules.files.join(', ')}: ${parts.join('; ')}`, { kind, missing, unexpected: extra });
  }
}

/**
 * Reads `dir` (holding exactly the kind's files under their real names) with peft-core's reader for
 * the kind, which checks the manifest, the tensors' names and shapes, and checksums. Malformed
 * content fails with peft-core's own error (400 with its code, e.g. ROUTER_ARTIFACT_INVALID).
 */
export async function readArtifactContent(kind: ArtifactKind, dir: string): Promise<ArtifactContent> {
  try {
    switch (kind) {
      case 'router': {
        const { manifest: m } = await readRouterArtifact(dir);
        return {
          format: m.format,
          router: { baseModel: m.baseModel, experts: m.experts },
          summary: { kind: m.kind, formatVersion: m.formatVersion, baseModel: m.baseModel, experts: m.experts, targets: m.targets.length, hyperparameters: m.hyperparameters, metrics: m.metrics },
        };
      }
      case 'retriever': {
        const { manifest: m } = await readRetrieverArtifact(dir);
        return {
          format: m.format,
          summary: { version: m.version, space: m.space, text: m.text, outDim: m.weightEncoder.outDim, temperature: m.temperature, training: m.training },
        };
      }
      case 'discriminator': {
        const { meta, adapter } = await readDiscriminatorDir(dir);
        return {
          format: meta.format,
          discriminatorBase: meta.base,
          summary: { threshold: meta.threshold, question: meta.question, answers: meta.answers, base: meta.base, training: meta.training, rank: adapter.config.r },
        };
      }
    }
  } catch (error) {
    if (error instanceof PeftCoreError || error instanceof DomainError) throw error;
    // A reader that failed on something other than its own checks (e.g. a JSON shape it did not expect) still failed on the client's bytes.
    throw domainErrors.validation(`${kind} artifact is invalid: ${(error as Error).message}`, { kind });
  }
}
