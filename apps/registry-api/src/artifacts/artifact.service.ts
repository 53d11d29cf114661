import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable } from '@nestjs/common';
import { ARTIFACT_FILE_NAME_PATTERN, type ArtifactKind, type ArtifactResult } from '@palette/job-contracts';
import type { BlobStore } from '@palette/object-store';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedKey } from '../auth';
import { parseQualifiedVersion, parseVersionRef, describeRef, type VersionRef } from '../catalog/adapters/version-ref';
import { BlobStaging } from '../catalog/uploads/blob-staging';
import { receiveMultipart, type MultipartPolicy, type MultipartSource } from '../catalog/uploads/multipart-receiver';
import { TempWorkspace } from '../catalog/uploads/temp-workspace';
import { AppLogger, DomainError, domainErrors } from '../common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DatabaseService, type Tx } from '../database';
import { Prisma } from '../generated/prisma/client';
import { BLOB_STORE } from '../storage/blob-store.provider';
import { ARTIFACT_RULES, checkFileSet, readArtifactContent, type ArtifactContent } from './artifact-formats';
import { encodeCursor, parseArtifactSpec, parseFilePath, parseKind, parseMetadata, parseName, type ArtifactListQuery } from './artifact-input';
import type { ArtifactDto, ArtifactPageDto } from './artifact.dto';

/** BlobRef.ownerType of an artifact's files (ownerId = Artifact.id). */
export const ARTIFACT_OWNER = 'artifact';

/** One file of an artifact: its name in the artifact directory and its blob. */
export interface ArtifactFileRef {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

/** What job result registration hands over: the worker already put every file in the object store. */
export interface ArtifactFromJob {
  readonly jobId: string;
  readonly kind: ArtifactKind;
  readonly name: string;
  /** The job's base model (required for routers and discriminators: their manifests are checked against it). */
  readonly baseModelId: string | null;
  /** A discriminator's companion adapter version. */
  readonly adapterVersionId?: string | null;
  /** Must equal the format the files declare (e.g. palette-router). */
  readonly format: string;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly description?: string | null;
  readonly files: readonly ArtifactFileRef[];
}

/** A validated artifact whose blobs are in the store, ready to be written in a transaction. */
export interface PreparedArtifact {
  readonly kind: ArtifactKind;
  readonly name: string;
  readonly format: string;
  readonly baseModelId: string | null;
  readonly adapterVersionId: string | null;
  readonly metadata: Prisma.InputJsonObject;
  readonly description: string | null;
  readonly jobId: string | null;
  readonly files: readonly ArtifactFileRef[];
}

export interface ArtifactRegistration {
  readonly artifact: ArtifactDto;
  /** false when the job had registered its artifact before (the first one is returned). */
  readonly created: boolean;
}

const ARTIFACT_INCLUDE = {
  files: { orderBy: { path: 'asc' } },
  baseModel: { select: { id: true, name: true } },
  adapterVersion: { select: { id: true, version: true, adapter: { select: { name: true } } } },
} satisfies Prisma.ArtifactInclude;
type ArtifactRow = Prisma.ArtifactGetPayload<{ include: typeof ARTIFACT_INCLUDE }>;

/** References an artifact makes, resolved to row ids. */
interface ResolvedRefs {
  readonly baseModelId: string | null;
  readonly adapterVersionId: string | null;
}

/**
 * Artifacts: routers, retrievers and discriminators, stored as named, versioned, immutable sets of
 * files (each a blob with a BlobRef owned by the artifact). Uploads and job results go through the
 * same checks: exactly the kind's files, peft-core's reader for the kind over the bytes, and every
 * reference (base model, a router's experts, a discriminator's adapter version) resolved in the
 * catalog. A rejected artifact leaves no row and no blob of its own.
 */
@Injectable()
export class ArtifactService {
  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly logger: AppLogger,
  ) {}

  // ---------------------------------------------------------------- reads

  async list(query: ArtifactListQuery): Promise<ArtifactPageDto> {
    const where: Prisma.ArtifactWhereInput = { deletedAt: null };
    if (query.kind) where.kind = query.kind;
    if (query.name) where.name = query.name;
    if (query.baseModel) where.baseModel = { name: query.baseModel };
    if (query.adapterVersion) {
      const { adapter, ref } = parseQualifiedVersion(query.adapterVersion);
      where.adapterVersion = ref.kind === 'number' ? { version: ref.version, adapter: { name: adapter } } : { id: await this.adapterVersionIdOrNone(adapter, ref) };
    }
    if (query.cursor) {
      const { createdAt, id } = query.cursor;
      where.OR = [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id } }];
    }
    const rows = await this.db.prisma.artifact.findMany({ where, include: ARTIFACT_INCLUDE, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], take: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return { items: page.map(toDto), nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null };
  }

  /** One artifact by kind and name: `version`, or the latest one not deleted. */
  async get(kindInput: unknown, nameInput: unknown, version?: number): Promise<ArtifactDto> {
    const kind = parseKind(kindInput);
    const name = parseName(nameInput);
    const row = await this.db.prisma.artifact.findFirst({
      where: { kind, name, deletedAt: null, ...(version !== undefined ? { version } : {}) },
      include: ARTIFACT_INCLUDE,
      orderBy: { version: 'desc' },
    });
    if (!row) {
      const what = version === undefined ? `${kind} "${name}"` : `version ${version} of ${kind} "${name}"`;
      throw notFound(what, { kind, name, ...(version !== undefined ? { version } : {}) });
    }
    return toDto(row);
  }

  /** By id; soft-deleted artifacts are still returned here (with deletedAt), so a pinned id keeps working. */
  async getById(id: string): Promise<ArtifactDto> {
    return toDto(await this.loadById(id));
  }

  /** A file's bytes, straight from the blob store. */
  async openFile(id: string, pathInput: string): Promise<{ stream: Readable; size: number; sha256: string; path: string }> {
    const file = parseFilePath(pathInput);
    const row = await this.loadById(id);
    const found = row.files.find((f) => f.path === file);
    if (!found) throw notFound(`file "${file}" of ${row.kind} "${row.name}" v${row.version}`, { artifact: id, path: file, files: row.files.map((f) => f.path) });
    return { stream: await this.blobs.get(found.sha256), size: Number(found.size), sha256: found.sha256, path: found.path };
  }

  // ---------------------------------------------------------------- writes

  /** POST /artifacts: multipart `spec` + one file part per file (field name = file name). */
  async upload(req: MultipartSource, actor: AuthenticatedKey): Promise<ArtifactDto> {
    const workspace = await TempWorkspace.create(this.config.tmpDir, 'artifact');
    try {
      const received = await receiveMultipart(req, workspace, this.multipartPolicy());
      const extraFields = [...received.fields.keys()].filter((k) => k !== 'spec');
      if (extraFields.length > 0) throw domainErrors.validation(`unexpected fields ${extraFields.join(', ')}: everything but the files goes in the JSON field 'spec'`, { fields: extraFields });
      const spec = parseArtifactSpec(received.fields.get('spec'));
      checkFileSet(spec.kind, [...received.files.keys()]);
      // peft-core's readers want the files under their real names: move them into one directory.
      const dir = await workspace.subdir('files');
      const files: Array<ArtifactFileRef & { tmp: string }> = [];
      for (const [name, f] of received.files) {
        const tmp = path.join(dir, name);
        await rename(f.path, tmp);
        files.push({ path: name, sha256: f.sha256, size: f.size, tmp });
      }
      const content = await readArtifactContent(spec.kind, dir);
      const refs = await this.resolveByName(spec.kind, content, spec.baseModel, spec.adapterVersion);
      const prepared: PreparedArtifact = {
        kind: spec.kind,
        name: spec.name,
        format: content.format,
        ...refs,
        metadata: { ...spec.metadata, manifest: content.summary } as Prisma.InputJsonObject,
        description: spec.description ?? null,
        jobId: null,
        files: files.map(({ path: p, sha256, size }) => ({ path: p, sha256, size })),
      };
      const staging = new BlobStaging(this.blobs);
      let id: string;
      try {
        for (const f of files) await staging.put({ path: f.tmp, sha256: f.sha256 });
        id = (await this.db.transaction((tx) => this.insertPrepared(tx, prepared, actor))).id;
      } catch (error) {
        await staging.rollback(this.db.prisma);
        throw error;
      }
      const dto = await this.getById(id);
      this.logger.info({ artifact: id, kind: dto.kind, name: dto.name, version: dto.version }, 'artifact uploaded');
      return dto;
    } finally {
      await workspace.dispose();
    }
  }

  /**
   * Registers the artifact a job produced, at most once per job id: a second call returns the first
   * artifact and writes nothing. The worker's blobs are copied to a temp directory and re-hashed
   * (content and size must match), read with peft-core's reader for the kind, and their
   * references checked; then one transaction writes the rows, BlobRefs and audit record.
   * Callers with their own transaction use prepareFromJob (outside it) + insertPrepared (inside it).
   */
  async registerFromJob(input: ArtifactFromJob, actor: AuthenticatedKey | null = null): Promise<ArtifactRegistration> {
    const existing = await this.db.prisma.artifact.findUnique({ where: { jobId: input.jobId }, include: ARTIFACT_INCLUDE });
    if (existing) return { artifact: toDto(existing), created: false };
    const prepared = await this.prepareFromJob(input);
    const { id, created } = await this.db.transaction((tx) => this.insertPrepared(tx, prepared, actor));
    const artifact = await this.getById(id);
    if (created) this.logger.info({ artifact: id, jobId: input.jobId, kind: artifact.kind, name: artifact.name, version: artifact.version }, 'job artifact registered');
    return { artifact, created };
  }

  /** The slow half of registerFromJob (blob reads, hashing, validation): call it outside any transaction. */
  async prepareFromJob(input: ArtifactFromJob): Promise<PreparedArtifact> {
    const kind = parseKind(input.kind, 'artifact.kind');
    const name = parseName(input.name, 'artifact.name');
    const metadata = parseMetadata(input.metadata, 'artifact.metadata');
    const names = input.files.map((f) => f.path);
    for (const n of names) if (!ARTIFACT_FILE_NAME_PATTERN.test(n)) throw domainErrors.validation(`artifact file name ${JSON.stringify(n)} is not a plain file name`, { path: n });
    if (new Set(names).size !== names.length) throw domainErrors.validation('artifact files name the same path twice', { files: names });
    checkFileSet(kind, names);
    const workspace = await TempWorkspace.create(this.config.tmpDir, 'job-artifact');
    try {
      const dir = await workspace.subdir('files');
      for (const f of input.files) await this.copyBlob(f, path.join(dir, f.path));
      const content = await readArtifactContent(kind, dir);
      if (input.format !== content.format) {
        throw domainErrors.validation(`artifact format ${JSON.stringify(input.format)} differs from what its files declare (${content.format})`, { format: input.format, expected: content.format });
      }
      const refs = await this.resolveByIds(kind, content, input.baseModelId, input.adapterVersionId ?? null);
      return {
        kind,
        name,
        format: content.format,
        ...refs,
        metadata: { ...metadata, manifest: content.summary } as Prisma.InputJsonObject,
        description: input.description ?? null,
        jobId: input.jobId,
        files: input.files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })),
      };
    } finally {
      await workspace.dispose();
    }
  }

  /**
   * Writes a prepared artifact inside the caller's transaction: version = latest of (kind, name) + 1
   * (deleted versions count, so a number is never reused), files, BlobRefs, audit. Serialised per
   * (kind, name) by an advisory lock; with a job id, returns the job's existing artifact instead.
   */
  async insertPrepared(tx: Tx, p: PreparedArtifact, actor: AuthenticatedKey | null): Promise<{ id: string; version: number; created: boolean }> {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`artifact:${p.kind}:${p.name}`}))`;
    if (p.jobId !== null) {
      const existing = await tx.artifact.findUnique({ where: { jobId: p.jobId }, select: { id: true, version: true } });
      if (existing) return { id: existing.id, version: existing.version, created: false };
    }
    const latest = await tx.artifact.findFirst({ where: { kind: p.kind, name: p.name }, orderBy: { version: 'desc' }, select: { version: true } });
    const version = (latest?.version ?? 0) + 1;
    const row = await tx.artifact.create({
      data: {
        kind: p.kind,
        name: p.name,
        version,
        format: p.format,
        baseModelId: p.baseModelId,
        adapterVersionId: p.adapterVersionId,
        metadata: p.metadata,
        jobId: p.jobId,
        description: p.description,
        files: { create: p.files.map((f) => ({ path: f.path, sha256: f.sha256, size: BigInt(f.size) })) },
      },
      select: { id: true },
    });
    await tx.blobRef.createMany({ data: p.files.map((f) => ({ sha256: f.sha256, ownerType: ARTIFACT_OWNER, ownerId: row.id })), skipDuplicates: true });
    await this.audit.record(tx, {
      actor: actor?.id ?? null,
      action: 'artifact.create',
      entityType: 'artifact',
      entityId: row.id,
      details: { kind: p.kind, name: p.name, version, format: p.format, ...(p.jobId !== null ? { jobId: p.jobId } : {}) },
    });
    return { id: row.id, version, created: true };
  }

  /**
   * Soft delete: the artifact leaves listings and name lookups; by id it still reads (deletedAt set),
   * and its BlobRefs stay, so its files remain downloadable. Deleting twice answers the same.
   */
  async softDelete(id: string, actor: AuthenticatedKey): Promise<ArtifactDto> {
    const row = await this.loadById(id);
    if (row.deletedAt === null) {
      await this.db.transaction(async (tx) => {
        await tx.artifact.update({ where: { id }, data: { deletedAt: new Date() } });
        await this.audit.record(tx, { actor: actor.id, action: 'artifact.delete', entityType: 'artifact', entityId: id, details: { kind: row.kind, name: row.name, version: row.version } });
      });
    }
    return this.getById(id);
  }

  // ---------------------------------------------------------------- helpers

  private multipartPolicy(): MultipartPolicy {
    const json = this.config.maxConfigBytes;
    const maxFiles = Math.max(...Object.values(ARTIFACT_RULES).map((r) => r.files.length));
    return {
      // Manifests (JSON) are bounded like config files, tensors like weights; other names are refused here.
      fileLimit: (field) => (!ARTIFACT_FILE_NAME_PATTERN.test(field) ? undefined : field.endsWith('.json') ? json : this.config.maxUploadBytes),
      maxTotalBytes: this.config.maxUploadBytes + maxFiles * json,
      maxFiles,
      maxFieldBytes: 128 * 1024,
      maxFields: 2,
    };
  }

  private async loadById(id: string): Promise<ArtifactRow> {
    const row = /^[0-9a-f-]{36}$/i.test(id) ? await this.db.prisma.artifact.findUnique({ where: { id }, include: ARTIFACT_INCLUDE }) : null;
    if (!row) throw notFound(`artifact ${JSON.stringify(id)}`, { artifact: id });
    return row;
  }

  /** Copies one worker blob to `target`, checking it exists and that its bytes hash and measure as claimed. */
  private async copyBlob(f: ArtifactFileRef, target: string): Promise<void> {
    if (!(await this.blobs.has(f.sha256))) throw domainErrors.validation(`artifact file ${f.path}: blob ${f.sha256} is not in the object store`, { path: f.path, sha256: f.sha256 });
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(await this.blobs.get(f.sha256), meter, createWriteStream(target, { mode: 0o600 }));
    const sha256 = hash.digest('hex');
    if (sha256 !== f.sha256) throw domainErrors.validation(`artifact file ${f.path}: blob ${f.sha256} has different content (sha256 ${sha256})`, { path: f.path, sha256: f.sha256 });
    if (size !== f.size) throw domainErrors.validation(`artifact file ${f.path}: blob ${f.sha256} is ${size} bytes, not ${f.size}`, { path: f.path, size: f.size });
  }

  /** Upload references by name: the spec's base model (a router may name it in its manifest instead) and adapter version. */
  private async resolveByName(kind: ArtifactKind, content: ArtifactContent, baseName: string | undefined, adapterVersionRef: string | undefined): Promise<ResolvedRefs> {
    const adapterVersion = adapterVersionRef === undefined ? null : await this.findAdapterVersion(adapterVersionRef);
    let base: BaseRow | null = null;
    if (baseName !== undefined) {
      base = await this.db.prisma.baseModel.findFirst({ where: { name: baseName, deletedAt: null }, select: BASE_SELECT });
      if (!base) throw notFound(`base model "${baseName}"`, { baseModel: baseName });
    } else if (content.router) {
      base = await this.findManifestBase(content.router.baseModel);
    } else if (adapterVersion) {
      base = await this.db.prisma.baseModel.findFirst({ where: { id: adapterVersion.baseModelId, deletedAt: null }, select: BASE_SELECT });
    }
    return this.checkRefs(kind, content, base, adapterVersion);
  }

  /** Job references by id (the job's base model, the adapter version its payload named). */
  private async resolveByIds(kind: ArtifactKind, content: ArtifactContent, baseModelId: string | null, adapterVersionId: string | null): Promise<ResolvedRefs> {
    let base: BaseRow | null = null;
    if (baseModelId !== null) {
      base = await this.db.prisma.baseModel.findFirst({ where: { id: baseModelId, deletedAt: null }, select: BASE_SELECT });
      if (!base) throw notFound(`base model with id ${baseModelId}`, { baseModelId });
    }
    let adapterVersion: AdapterVersionRow | null = null;
    if (adapterVersionId !== null) {
      const row = await this.db.prisma.adapterVersion.findUnique({ where: { id: adapterVersionId }, select: { id: true, version: true, adapter: { select: { name: true, baseModelId: true, deletedAt: true } } } });
      if (!row || row.adapter.deletedAt) throw notFound(`adapter version with id ${adapterVersionId}`, { adapterVersionId });
      adapterVersion = { id: row.id, label: `${row.adapter.name}@v${row.version}`, baseModelId: row.adapter.baseModelId };
    }
    if (base === null && adapterVersion !== null) base = await this.db.prisma.baseModel.findFirst({ where: { id: adapterVersion.baseModelId, deletedAt: null }, select: BASE_SELECT });
    if (base === null && content.router) base = await this.findManifestBase(content.router.baseModel);
    return this.checkRefs(kind, content, base, adapterVersion);
  }

  /**
   * The rules every artifact's references follow: a router names a base that exists and matches its
   * manifest, and every expert is a catalog adapter version on that base; a discriminator has its
   * adapter version and, when its base is known, was trained on a model of that base's dimensions.
   */
  private async checkRefs(kind: ArtifactKind, content: ArtifactContent, base: BaseRow | null, adapterVersion: AdapterVersionRow | null): Promise<ResolvedRefs> {
    if (content.router) {
      if (!base) throw domainErrors.validation('a router artifact needs its base model', { kind });
      if (!manifestNamesBase(content.router.baseModel, base.name)) {
        throw domainErrors.validation(`router.json was trained on base model "${content.router.baseModel}", not "${base.name}"`, { baseModel: base.name, manifestBaseModel: content.router.baseModel });
      }
      for (const expert of content.router.experts) {
        const at = expert.lastIndexOf('@');
        const adapterName = expert.slice(0, at);
        const ref = parseExpertVersion(expert, expert.slice(at + 1));
        const adapter = await this.db.prisma.adapter.findUnique({ where: { name: adapterName }, select: { id: true, deletedAt: true, baseModel: { select: { id: true, name: true } } } });
        if (!adapter || adapter.deletedAt) throw notFound(`router expert "${expert}": adapter "${adapterName}"`, { expert });
        if (adapter.baseModel.id !== base.id) {
          throw domainErrors.validation(`router expert "${expert}" is an adapter of base model "${adapter.baseModel.name}", not "${base.name}"`, { expert, expertBaseModel: adapter.baseModel.name, baseModel: base.name });
        }
        if (!(await this.versionExists(adapter.id, ref))) throw notFound(`router expert "${expert}": version ${describeRef(ref)} of adapter "${adapterName}"`, { expert });
      }
    }
    if (kind === 'discriminator') {
      if (!adapterVersion) throw domainErrors.validation("a discriminator artifact needs 'adapterVersion' (\"adapter@vN\"): the adapter it accompanies", { field: 'adapterVersion' });
      if (base && content.discriminatorBase) {
        const cfg = (base.config ?? {}) as Record<string, unknown>;
        const want = content.discriminatorBase;
        const have = { hiddenSize: cfg.hidden_size, numLayers: cfg.num_hidden_layers, vocabSize: cfg.vocab_size };
        const differs = (['hiddenSize', 'numLayers', 'vocabSize'] as const).filter((k) => typeof have[k] === 'number' && have[k] !== want[k]);
        if (differs.length > 0) {
          throw domainErrors.validation(
            `discriminator.json was trained on a base with ${differs.map((k) => `${k} ${want[k]}`).join(', ')}; base model "${base.name}" has ${differs.map((k) => `${k} ${String(have[k])}`).join(', ')}`,
            { baseModel: base.name, differs },
          );
        }
      }
    }
    return { baseModelId: base?.id ?? null, adapterVersionId: adapterVersion?.id ?? null };
  }

  /** A router manifest's base: "name" or "name@version" (the registry's base models have no versions). */
  private async findManifestBase(manifestBase: string): Promise<BaseRow> {
    const candidates = [manifestBase, manifestBase.split('@')[0]!];
    const base = await this.db.prisma.baseModel.findFirst({ where: { name: { in: candidates }, deletedAt: null }, select: BASE_SELECT });
    if (!base) throw notFound(`base model "${manifestBase}" (named by router.json)`, { baseModel: manifestBase });
    return base;
  }

  private async findAdapterVersion(qualified: string): Promise<AdapterVersionRow> {
    const { adapter: name, ref } = parseQualifiedVersion(qualified);
    const adapter = await this.db.prisma.adapter.findUnique({ where: { name }, select: { id: true, baseModelId: true, deletedAt: true } });
    if (!adapter || adapter.deletedAt) throw notFound(`adapter "${name}"`, { adapterVersion: qualified });
    const id = await this.versionId(adapter.id, ref);
    if (id === null) throw notFound(`version ${describeRef(ref)} of adapter "${name}"`, { adapterVersion: qualified });
    const row = await this.db.prisma.adapterVersion.findUniqueOrThrow({ where: { id }, select: { version: true } });
    return { id, label: `${name}@v${row.version}`, baseModelId: adapter.baseModelId };
  }

  private async adapterVersionIdOrNone(adapterName: string, ref: VersionRef): Promise<string> {
    const adapter = await this.db.prisma.adapter.findUnique({ where: { name: adapterName }, select: { id: true } });
    return (adapter ? await this.versionId(adapter.id, ref) : null) ?? '00000000-0000-0000-0000-000000000000';
  }

  private async versionExists(adapterId: string, ref: VersionRef): Promise<boolean> {
    return (await this.versionId(adapterId, ref)) !== null;
  }

  private async versionId(adapterId: string, ref: VersionRef): Promise<string | null> {
    if (ref.kind === 'number') return (await this.db.prisma.adapterVersion.findUnique({ where: { adapterId_version: { adapterId, version: ref.version } }, select: { id: true } }))?.id ?? null;
    if (ref.kind === 'latest') return (await this.db.prisma.adapterVersion.findFirst({ where: { adapterId }, orderBy: { version: 'desc' }, select: { id: true } }))?.id ?? null;
    return (await this.db.prisma.adapterAlias.findUnique({ where: { adapterId_name: { adapterId, name: ref.alias } }, select: { versionId: true } }))?.versionId ?? null;
  }
}

const BASE_SELECT = { id: true, name: true, config: true } as const;
type BaseRow = { id: string; name: string; config: Prisma.JsonValue };
type AdapterVersionRow = { id: string; label: string; baseModelId: string };

/** NOT_FOUND whose message names exactly what was looked up (e.g. `version 3 of router "math"`). */
function notFound(what: string, details: Record<string, unknown>): DomainError {
  return new DomainError('NOT_FOUND', `${what} not found`, details);
}

function manifestNamesBase(manifestBase: string, baseName: string): boolean {
  return manifestBase === baseName || manifestBase.split('@')[0] === baseName;
}

/** An expert's version ("1", "v1", "latest" or an alias), as a 400 naming the expert when malformed. */
function parseExpertVersion(expert: string, version: string): VersionRef {
  try {
    return parseVersionRef(version);
  } catch {
    throw domainErrors.validation(`router expert "${expert}": ${JSON.stringify(version)} is not a version (N, vN, latest or an alias)`, { expert });
  }
}

/** The files map of an ArtifactResult (a job result) as the list registerFromJob takes. */
export function artifactFilesOf(result: Pick<ArtifactResult, 'files'>): ArtifactFileRef[] {
  return Object.entries(result.files).map(([p, f]) => ({ path: p, sha256: f.sha256, size: f.size }));
}

function toDto(row: ArtifactRow): ArtifactDto {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    version: row.version,
    format: row.format,
    description: row.description,
    baseModel: row.baseModel ? { id: row.baseModel.id, name: row.baseModel.name } : null,
    adapterVersion: row.adapterVersion ? { id: row.adapterVersion.id, adapter: row.adapterVersion.adapter.name, version: row.adapterVersion.version } : null,
    metadata: row.metadata,
    files: row.files.map((f) => ({ path: f.path, sha256: f.sha256, size: Number(f.size) })),
    jobId: row.jobId,
    createdAt: row.createdAt,
    deletedAt: row.deletedAt,
  };
}
