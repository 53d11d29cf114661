import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import { EmbeddingSpacesService } from '../../retrieval/embedding-spaces.service';
import { CatalogReadCache } from '../cache/catalog-read-cache';
import { catalogErrors } from '../catalog-errors';
import { SKETCH_SPACE, readJsonFile } from '../peft/peft-formats';
import { APP_CONFIG, AuditService, BLOB_STORE, DatabaseService, vectorLiteral, type AppConfig, type AuthenticatedKey, type Tx } from '../platform';
import { BlobStaging } from '../uploads/blob-staging';
import { receiveMultipart, type MultipartSource } from '../uploads/multipart-receiver';
import { TempWorkspace } from '../uploads/temp-workspace';
import { adapterMultipartPolicy } from '../uploads/upload-policies';
import { resolveAdapterFiles, type AdapterTempFiles } from './adapter-files';
import { VERSION_INCLUDE, toVersionDto } from './adapter-mapper';
import { queryAdapterSummariesByIds } from './adapter-summary.query';
import type { AdapterUploadResultDto } from './adapter.dto';
import { parseAdapterUploadFields, type AdapterUploadInput } from './adapter-upload.input';
import { validateAdapterUpload, type ValidatedAdapter } from './adapter-validation';
import { AdaptersService } from './adapters.service';
import { parseQualifiedVersion } from './version-ref';

/** BlobRef.ownerType of an adapter version's files. */
export const ADAPTER_VERSION_OWNER = 'adapter_version';

/**
 * The adapter upload pipeline: stream the request to temp files, validate everything there,
 * then store the blobs and write every row in one transaction. A rejected upload leaves no row
 * and no blob; temp files are removed whatever happens. Identical bytes uploaded again return
 * the existing version.
 */
@Injectable()
export class AdapterUploadService {
  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly adapters: AdaptersService,
    private readonly cache: CatalogReadCache,
    private readonly spaces: EmbeddingSpacesService,
  ) {}

  async upload(req: MultipartSource, actor: AuthenticatedKey): Promise<AdapterUploadResultDto> {
    const workspace = await TempWorkspace.create(this.config.tmpDir, 'adapter');
    try {
      const received = await receiveMultipart(req, workspace, adapterMultipartPolicy(this.config));
      const input = parseAdapterUploadFields(received.fields);
      const files = await resolveAdapterFiles(received, workspace, this.config);
      return await this.register(input, files, actor);
    } finally {
      await workspace.dispose();
    }
  }

  /**
   * Registers validated-on-disk files; callable by other services (e.g. job results) with their own temp files.
   * `options.inTransaction` runs inside the transaction that creates the version (not when identical
   * bytes return an existing version: `created` is false then), so a caller's own rows (a job's
   * result link) commit together with the version or not at all; what it throws rolls both back.
   */
  async register(
    input: AdapterUploadInput,
    files: AdapterTempFiles,
    actor: AuthenticatedKey,
    options: { inTransaction?: (tx: Tx, versionId: string) => Promise<void> } = {},
  ): Promise<AdapterUploadResultDto> {
    const existing = await this.db.prisma.adapter.findUnique({
      where: { name: input.name },
      select: { id: true, deletedAt: true, baseModel: { select: { name: true } } },
    });
    if (existing?.deletedAt) {
      throw catalogErrors.conflict(`adapter "${input.name}" is deleted; restore it before uploading new versions`, { adapter: input.name });
    }
    if (existing && input.baseModel && existing.baseModel.name !== input.baseModel) {
      throw catalogErrors.conflict(
        `adapter "${input.name}" is built on base model "${existing.baseModel.name}", not "${input.baseModel}"`,
        { adapter: input.name, baseModel: existing.baseModel.name },
      );
    }
    const baseName = existing?.baseModel.name ?? input.baseModel ?? (await this.baseNameFromConfig(files));
    const base = await this.db.prisma.baseModel.findFirst({ where: { name: baseName, deletedAt: null }, select: { id: true, name: true, config: true } });
    if (!base) throw catalogErrors.notFound(`base model "${baseName}"`, { baseModel: baseName });

    const validated = await validateAdapterUpload(files, base.config);
    if (existing) {
      const same = await this.findByDigest(existing.id, validated.contentDigest);
      if (same) return same;
    }
    const parentVersionId = input.parent ? await this.resolveParent(input.parent) : undefined;

    // Two attempts: a concurrent upload to the same adapter can take the adapter name or the next
    // version number between our read and our insert (unique violation); the retry sees its rows.
    for (let attempt = 1; ; attempt++) {
      const staging = new BlobStaging(this.blobs);
      try {
        await staging.put({ path: files.config.path, sha256: validated.configSha256 });
        await staging.put({ path: files.weights.path, sha256: validated.weightsSha256 });
        const versionId = await this.db.transaction(async (tx) => {
          const id = await this.writeRows(tx, input, base, validated, parentVersionId, actor);
          await options.inTransaction?.(tx, id);
          return id;
        });
        this.cache.invalidate();
        // Uploads and train results both land here: embed the new version into its base's active learned space (background).
        this.spaces.afterVersionRegistered(versionId);
        return await this.result(versionId, true);
      } catch (err) {
        await staging.rollback(this.db.prisma);
        if (!isUniqueViolation(err)) throw err;
        // A concurrent upload of the same bytes won the race: answer as the idempotent path does.
        const adapter = await this.db.prisma.adapter.findUnique({ where: { name: input.name }, select: { id: true } });
        const same = adapter ? await this.findByDigest(adapter.id, validated.contentDigest) : null;
        if (same) return same;
        if (attempt >= 2) throw err;
      }
    }
  }

  private async writeRows(
    tx: Tx,
    input: AdapterUploadInput,
    base: { id: string; name: string },
    validated: ValidatedAdapter,
    parentVersionId: string | undefined,
    actor: AuthenticatedKey,
  ): Promise<string> {
    let adapter = await tx.adapter.findUnique({ where: { name: input.name }, select: { id: true } });
    if (!adapter) {
      adapter = await tx.adapter.create({
        data: { name: input.name, baseModelId: base.id, description: input.description ?? '' },
        select: { id: true },
      });
    } else if (input.description !== undefined) {
      await tx.adapter.update({ where: { id: adapter.id }, data: { description: input.description } });
    } else {
      await tx.adapter.update({ where: { id: adapter.id }, data: { updatedAt: new Date() } });
    }
    const latest = await tx.adapterVersion.findFirst({ where: { adapterId: adapter.id }, orderBy: { version: 'desc' }, select: { version: true } });
    const version = await tx.adapterVersion.create({
      data: {
        adapterId: adapter.id,
        version: (latest?.version ?? 0) + 1,
        configSha256: validated.configSha256,
        weightsSha256: validated.weightsSha256,
        contentDigest: validated.contentDigest,
        config: validated.configJson as object,
        rank: validated.rank,
        targetModules: validated.targetModules,
        sizeBytes: BigInt(validated.sizeBytes),
        card: validated.cardBody,
      },
      select: { id: true, version: true },
    });
    await tx.blobRef.createMany({
      data: [validated.configSha256, validated.weightsSha256].map((sha256) => ({ sha256, ownerType: ADAPTER_VERSION_OWNER, ownerId: version.id })),
      skipDuplicates: true,
    });
    await this.adapters.attachTags(tx, adapter.id, input.tags);
    const edges: Array<{ kind: 'parent' | 'base_model' | 'job' | 'dataset'; parentVersionId?: string; ref?: string }> = [
      { kind: 'base_model', ref: base.name },
    ];
    if (parentVersionId) edges.push({ kind: 'parent', parentVersionId });
    if (input.job) edges.push({ kind: 'job', ref: input.job });
    if (input.dataset) edges.push({ kind: 'dataset', ref: input.dataset });
    await tx.lineageEdge.createMany({ data: edges.map((e) => ({ ...e, childVersionId: version.id })) });
    if (validated.sketch) {
      const vector = vectorLiteral(validated.sketch);
      await tx.$executeRaw`INSERT INTO "Embedding" ("adapterVersionId", "kind", "space", "vector")
        VALUES (${version.id}, 'weight'::"EmbeddingKind", ${SKETCH_SPACE}, ${vector}::vector)`;
    }
    await this.audit.record(tx, {
      actor: actor.id,
      action: 'adapter.version.create',
      entityType: 'adapter_version',
      entityId: version.id,
      details: { adapter: input.name, version: version.version, contentDigest: validated.contentDigest },
    });
    return version.id;
  }

  private async baseNameFromConfig(files: AdapterTempFiles): Promise<string> {
    const json = await readJsonFile(files.config.path, 'adapter_config.json');
    const named = (json as { base_model_name_or_path?: unknown } | null)?.base_model_name_or_path;
    if (typeof named !== 'string' || named === '') {
      throw catalogErrors.invalid(`'baseModel' is required: adapter_config.json names no base_model_name_or_path`, { field: 'baseModel' });
    }
    return named;
  }

  private async resolveParent(qualified: string): Promise<string> {
    const { adapter, ref } = parseQualifiedVersion(qualified);
    const row = await this.db.prisma.adapter.findUnique({ where: { name: adapter }, select: { id: true } });
    if (!row) throw catalogErrors.notFound(`parent adapter "${adapter}"`, { parent: qualified });
    return this.adapters.resolveVersionId(this.db.prisma, row.id, adapter, ref);
  }

  private async findByDigest(adapterId: string, contentDigest: string): Promise<AdapterUploadResultDto | null> {
    const version = await this.db.prisma.adapterVersion.findUnique({
      where: { adapterId_contentDigest: { adapterId, contentDigest } },
      select: { id: true },
    });
    return version ? this.result(version.id, false) : null;
  }

  private async result(versionId: string, created: boolean): Promise<AdapterUploadResultDto> {
    const version = await this.db.prisma.adapterVersion.findUniqueOrThrow({ where: { id: versionId }, include: VERSION_INCLUDE });
    const [adapter] = await queryAdapterSummariesByIds(this.db.prisma, [version.adapterId]);
    return { adapter, version: toVersionDto(version), created };
  }
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'P2002';
}
