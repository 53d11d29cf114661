/**
 * Artifacts: routers, retrievers and Trans-LoRA discriminators that jobs produce and the registry
 * stores as named, versioned, immutable directories ("a JSON manifest + tensors"). Each file is a
 * blob in the object store; a job that produced one describes it in its result as an ArtifactResult
 * (the worker puts the blobs first, the registry re-hashes them when it registers the artifact).
 */
import { isSha256, type StoredFile } from './blobs';

export const ARTIFACT_KINDS = ['router', 'retriever', 'discriminator'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

export function isArtifactKind(value: unknown): value is ArtifactKind {
  return typeof value === 'string' && (ARTIFACT_KINDS as readonly string[]).includes(value);
}

/**
 * An artifact's file name: one path segment (no slashes, no `.`/`..`), letters, digits, `_ . -`,
 * so materialising the files into a directory can never escape it.
 */
export const ARTIFACT_FILE_NAME_PATTERN = /^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,128}$/;

/** A produced artifact as a job result describes it. */
export interface ArtifactResult {
  readonly kind: ArtifactKind;
  /** Registry name (adapter-name rules: letters, digits, `. _ -`, starting alphanumeric, ≤ 128). */
  readonly name: string;
  /** The manifest's format id: palette-router, palette-retriever, palette.trans-lora.discriminator/v1. */
  readonly format: string;
  /** Training figures and anything else worth keeping next to the artifact (JSON object). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** File name in the artifact directory → its blob. */
  readonly files: Readonly<Record<string, StoredFile>>;
}

/** Problems with a value that should be an ArtifactResult, each naming the field; empty when valid. */
export function artifactResultIssues(value: unknown, where = 'artifact'): string[] {
  const issues: string[] = [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${where}: expected an object {kind, name, format, metadata, files}`];
  const v = value as Record<string, unknown>;
  if (!isArtifactKind(v.kind)) issues.push(`${where}.kind: expected one of ${ARTIFACT_KINDS.join(', ')}, got ${JSON.stringify(v.kind ?? null)}`);
  if (typeof v.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(v.name)) issues.push(`${where}.name: expected a name (letters, digits, . _ -, ≤ 128), got ${JSON.stringify(v.name ?? null)}`);
  if (typeof v.format !== 'string' || v.format.length === 0) issues.push(`${where}.format: expected a non-empty string`);
  if (typeof v.metadata !== 'object' || v.metadata === null || Array.isArray(v.metadata)) issues.push(`${where}.metadata: expected an object`);
  if (typeof v.files !== 'object' || v.files === null || Array.isArray(v.files) || Object.keys(v.files).length === 0) {
    issues.push(`${where}.files: expected an object of file name → {sha256, size} with at least one file`);
  } else {
    for (const [name, f] of Object.entries(v.files as Record<string, unknown>)) {
      if (!ARTIFACT_FILE_NAME_PATTERN.test(name)) issues.push(`${where}.files: ${JSON.stringify(name)} is not a plain file name`);
      const file = f as { sha256?: unknown; size?: unknown } | null;
      if (typeof file !== 'object' || file === null || typeof file.sha256 !== 'string' || !isSha256(file.sha256) || typeof file.size !== 'number' || !Number.isSafeInteger(file.size) || file.size < 0) {
        issues.push(`${where}.files["${name}"]: expected {sha256, size}`);
      }
    }
  }
  return issues;
}
