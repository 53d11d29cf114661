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

export interface RegistryAdapterPage {
  readonly items: readonly RegistryAdapter[];
  readonly nextCursor: string | null;
}
