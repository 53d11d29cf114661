import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import type { BaseModel, BaseModelFile, Prisma } from '../../generated/prisma/client';
import { CatalogReadCache } from '../cache/catalog-read-cache';
import { catalogErrors } from '../catalog-errors';
import { requireName } from '../catalog-input';
import { APP_CONFIG, AuditService, BLOB_STORE, DatabaseService, type AppConfig, type AuthenticatedKey, type Tx } from '../platform';
import { BlobStaging } from '../uploads/blob-staging';
import { receiveMultipart, type MultipartSource } from '../uploads/multipart-receiver';
import { TempWorkspace } from '../uploads/temp-workspace';
import { baseModelMultipartPolicy } from '../uploads/upload-policies';
import type { BaseModelDto, BaseModelSummaryDto } from './base-model.dto';
import { validateBaseModelFiles } from './base-model-files';
import { resolveImportDirectory } from './import-path';
import { hashFile } from './hash-file';

/** A file ready to be stored: on local disk, with its digest. */
interface HashedModelFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/** BlobRef.ownerType of a base model's files. */
export const BASE_MODEL_OWNER = 'base_model';

type BaseModelWithFiles = BaseModel & { files: BaseModelFile[]; _count?: { adapters: number } };

/**
 * Base models: registration (multipart upload or server-side import), listing, lookup with an
 * architecture summary, and deletion (refused while adapters depend on the model).
 */
@Injectable()
export class BaseModelsService {
  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
    private readonly cache: CatalogReadCache,
  ) {}

  /** Multipart upload: one part per file, named by its field (`config.json`, `model.safetensors`, ...), plus `name`. */
  async upload(req: MultipartSource, actor: AuthenticatedKey): Promise<BaseModelDto> {
    const workspace = await TempWorkspace.create(this.config.tmpDir, 'base-model');
    try {
      const received = await receiveMultipart(req, workspace, baseModelMultipartPolicy(this.config));
      const name = requireName(received.fields.get('name'), 'name');
      const files = new Map<string, HashedModelFile>([...received.files].map(([field, f]) => [field, f]));
      return await this.register(name, files, actor, 'upload');
    } finally {
      await workspace.dispose();
    }
  }

  /** Registers a model folder already on the server; the path must resolve inside MODEL_IMPORT_ROOTS. */
  async importFromPath(nameInput: unknown, pathInput: unknown, actor: AuthenticatedKey): Promise<BaseModelDto> {
    const name = requireName(nameInput, 'name');
    if (typeof pathInput !== 'string' || pathInput === '') throw catalogErrors.invalid(`'path' is required`, { field: 'path' });
    const found = await resolveImportDirectory(pathInput, this.config.modelImportRoots);
    const files = new Map<string, HashedModelFile>();
    for (const f of found) {
      if (f.size > this.config.maxUploadBytes) {
        throw catalogErrors.tooLarge(`'${f.name}' is ${f.size} bytes, over MAX_UPLOAD_BYTES (${this.config.maxUploadBytes})`);
      }
      files.set(f.name, { path: f.path, size: f.size, sha256: await hashFile(f.path) });
    }
    return this.register(name, files, actor, 'import');
  }

  /**
   * Registers model files already on local disk (e.g. a pretrain job's output, re-hashed into a temp
   * dir): same validation, blobs, BlobRefs and audit as an upload. `options.metrics` becomes
   * BaseModel.metrics; `options.inTransaction` runs inside the transaction that creates the row, so
   * the caller's own rows (a job's result marker) commit with it or not at all.
   */
  registerFiles(
    name: string,
    files: ReadonlyMap<string, HashedModelFile>,
    actor: AuthenticatedKey,
    options: { metrics?: Prisma.InputJsonObject; inTransaction?: (tx: Tx, baseModelId: string) => Promise<void> } = {},
  ): Promise<BaseModelDto> {
    return this.register(requireName(name, 'name'), files, actor, 'job', options);
  }

  private async register(
    name: string,
    files: ReadonlyMap<string, HashedModelFile>,
    actor: AuthenticatedKey,
    source: 'upload' | 'import' | 'job',
    options: { metrics?: Prisma.InputJsonObject; inTransaction?: (tx: Tx, baseModelId: string) => Promise<void> } = {},
  ): Promise<BaseModelDto> {
    if (await this.db.prisma.baseModel.findUnique({ where: { name }, select: { id: true } })) {
      throw catalogErrors.conflict(`base model "${name}" already exists`, { baseModel: name });
    }
    const validated = await validateBaseModelFiles(files);
    const staging = new BlobStaging(this.blobs);
    try {
      for (const f of files.values()) await staging.put(f);
      const id = await this.db.transaction(async (tx) => {
        const created = await tx.baseModel.create({
          data: {
            name,
            family: validated.summary.family,
            config: validated.configJson as object,
            summary: validated.summary as unknown as Prisma.InputJsonObject,
            ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
            files: {
              create: [...files].map(([path, f]) => ({ path, blobSha256: f.sha256, size: BigInt(f.size) })),
            },
          },
          select: { id: true },
        });
        // BlobRefs are what garbage collection honours; BaseModelFile rows alone would not keep the blobs.
        await tx.blobRef.createMany({
          data: [...new Set([...files.values()].map((f) => f.sha256))].map((sha256) => ({ sha256, ownerType: BASE_MODEL_OWNER, ownerId: created.id })),
          skipDuplicates: true,
        });
        await this.audit.record(tx, {
          actor: actor.id,
          action: `base_model.${source}`,
          entityType: 'base_model',
          entityId: created.id,
          details: { name, files: files.size, totalBytes: validated.summary.totalBytes },
        });
        await options.inTransaction?.(tx, created.id);
        return created.id;
      });
      this.cache.invalidate();
      return this.toDto(await this.loadById(id));
    } catch (err) {
      await staging.rollback(this.db.prisma);
      throw uniqueNameConflict(err, name);
    }
  }

  list(): Promise<BaseModelDto[]> {
    return this.cache.read('base-models', () => this.listUncached());
  }

  private async listUncached(): Promise<BaseModelDto[]> {
    const rows = await this.db.prisma.baseModel.findMany({
      where: { deletedAt: null },
      include: { files: true, _count: { select: { adapters: { where: { deletedAt: null } } } } },
      orderBy: { name: 'asc' },
    });
    return rows.map((r) => this.toDto(r));
  }

  get(name: string): Promise<BaseModelDto> {
    return this.cache.read(`base-model:${name}`, async () => this.toDto(await this.load(name)));
  }

  /** The model's parsed config.json, for adapter validation. */
  async findForAdapter(name: string): Promise<{ id: string; name: string; config: unknown }> {
    const row = await this.db.prisma.baseModel.findFirst({ where: { name, deletedAt: null }, select: { id: true, name: true, config: true } });
    if (!row) throw catalogErrors.notFound(`base model "${name}"`, { baseModel: name });
    return row;
  }

  async openFile(name: string, filePath: string): Promise<{ stream: Readable; size: number; sha256: string }> {
    const model = await this.load(name);
    const file = model.files.find((f) => f.path === filePath);
    if (!file) throw catalogErrors.notFound(`file "${filePath}" of base model "${name}"`, { file: filePath });
    return { stream: await this.blobs.get(file.blobSha256), size: Number(file.size), sha256: file.blobSha256 };
  }

  /**
   * Deletes a base model and its file rows. Refused with DEPENDENCY_EXISTS naming the adapters
   * (soft-deleted ones included: their versions still point at this model) while any exist.
   * Blobs are left to the garbage collector, which sees they are no longer referenced.
   */
  async delete(name: string, actor: AuthenticatedKey): Promise<{ deleted: true; name: string }> {
    const model = await this.load(name);
    await this.db.transaction(async (tx) => {
      const dependants = await tx.adapter.findMany({
        where: { baseModelId: model.id },
        select: { name: true, deletedAt: true },
        orderBy: { name: 'asc' },
        take: 20,
      });
      if (dependants.length > 0) {
        const total = await tx.adapter.count({ where: { baseModelId: model.id } });
        const names = dependants.map((d) => (d.deletedAt ? `${d.name} (deleted)` : d.name));
        throw catalogErrors.dependencyExists(
          `base model "${name}" is used by ${total} adapter${total === 1 ? '' : 's'}: ${names.join(', ')}${total > names.length ? ', ...' : ''}`,
          { baseModel: name, adapters: dependants.map((d) => d.name), total },
        );
      }
      await tx.blobRef.deleteMany({ where: { ownerType: BASE_MODEL_OWNER, ownerId: model.id } });
      await tx.baseModel.delete({ where: { id: model.id } });
      await this.audit.record(tx, { actor: actor.id, action: 'base_model.delete', entityType: 'base_model', entityId: model.id, details: { name } });
    });
    this.cache.invalidate();
    return { deleted: true, name };
  }

  private async load(name: string): Promise<BaseModelWithFiles> {
    const row = await this.db.prisma.baseModel.findFirst({
      where: { name, deletedAt: null },
      include: { files: { orderBy: { path: 'asc' } }, _count: { select: { adapters: { where: { deletedAt: null } } } } },
    });
    if (!row) throw catalogErrors.notFound(`base model "${name}"`, { baseModel: name });
    return row;
  }

  private async loadById(id: string): Promise<BaseModelWithFiles> {
    return this.db.prisma.baseModel.findUniqueOrThrow({
      where: { id },
      include: { files: { orderBy: { path: 'asc' } }, _count: { select: { adapters: { where: { deletedAt: null } } } } },
    });
  }

  private toDto(row: BaseModelWithFiles): BaseModelDto {
    return {
      id: row.id,
      name: row.name,
      family: row.family,
      summary: row.summary as unknown as BaseModelSummaryDto,
      files: row.files.map((f) => ({ path: f.path, sha256: f.blobSha256, size: Number(f.size) })),
      adapterCount: row._count?.adapters ?? 0,
      metrics: row.metrics,
      createdAt: row.createdAt,
    };
  }
}

/** Two registrations racing for one name: the loser gets the same 409 as a sequential duplicate. */
function uniqueNameConflict(err: unknown, name: string): unknown {
  if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'P2002') {
    return catalogErrors.conflict(`base model "${name}" already exists`, { baseModel: name });
  }
  return err;
}

