/** The parts of registry-api's DTOs the router reads (see apps/registry-api/src/catalog/*\/*.dto.ts). */

export interface RegistryFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

export interface RegistryBaseModel {
  readonly id: string;
  readonly name: string;
  readonly family: string;
  readonly files: readonly RegistryFile[];
  readonly createdAt: string;
}

export interface RegistryAdapter {
  readonly id: string;
  readonly name: string;
  readonly baseModel: string;
  readonly latestVersion: number | null;
  readonly createdAt: string;
  readonly deletedAt: string | null;
}

export interface RegistryAdapterVersion {
  readonly id: string;
  readonly adapter: string;
  readonly version: number;
  readonly rank: number;
  readonly configSha256: string;
  readonly weightsSha256: string;
  readonly sizeBytes: number;
}

/** A cursor page of a registry list route (`{items, nextCursor}`; null cursor = last page). */
export interface RegistryPage<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

/** registry-api's ArtifactDto (apps/registry-api/src/artifacts/artifact.dto.ts): a router, retriever or discriminator. */
export type RegistryArtifactKind = 'router' | 'retriever' | 'discriminator';

export interface RegistryArtifact {
  readonly id: string;
  readonly kind: RegistryArtifactKind;
  readonly name: string;
  readonly version: number;
  readonly format: string;
  readonly description: string | null;
  readonly baseModel: { readonly id: string; readonly name: string } | null;
  readonly adapterVersion: { readonly id: string; readonly adapter: string; readonly version: number } | null;
  /** The uploader's / job's metadata plus `manifest`, the registry's summary of the files. */
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly files: readonly RegistryFile[];
  readonly jobId: string | null;
  readonly createdAt: string;
  readonly deletedAt: string | null;
}
