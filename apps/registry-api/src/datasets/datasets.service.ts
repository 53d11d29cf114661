import type { Readable } from 'node:stream';
import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import { AuditService } from '../audit/audit.service';
import type { AuthenticatedKey } from '../auth';
import { BlobStaging } from '../catalog/uploads/blob-staging';
import type { StoredTempFile } from '../catalog/uploads/hashing-file-writer';
import { receiveMultipart, type MultipartPolicy, type MultipartSource } from '../catalog/uploads/multipart-receiver';
import { TempWorkspace } from '../catalog/uploads/temp-workspace';
import { domainErrors } from '../common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DatabaseService } from '../database';
import type { Dataset } from '../generated/prisma/client';
import { BLOB_STORE } from '../storage/blob-store.provider';
import { scanJsonlFile } from './dataset-scan';
import { DATASET_FILE_FIELD, parseDatasetUploadFields, type DatasetUploadInput } from './dataset-upload.input';
import { toDatasetDto, type DatasetDto, type DatasetUploadResultDto } from './dataset.dto';

/** BlobRef.ownerType of a dataset's JSONL blob. */
export const DATASET_OWNER = 'dataset';
const SHA256 = /^[0-9a-f]{64}$/;

/** Multipart limits of a dataset upload: one JSONL file part up to MAX_DATASET_BYTES and a few small fields. */
export function datasetMultipartPolicy(config: Pick<AppConfig, 'maxDatasetBytes'>): MultipartPolicy {
  return {
    fileLimit: (field) => (field === DATASET_FILE_FIELD ? config.maxDatasetBytes : undefined),
    maxTotalBytes: config.maxDatasetBytes,
    maxFiles: 1,
    maxFieldBytes: 64 * 1024,
    maxFields: 4,
  };
}

/**
 * JSONL training sets: streamed to a temp file (sha256 and the size limit enforced while
 * streaming), validated with peft-core's parser (errors name the line), stored as a
 * content-addressed blob with a BlobRef, and recorded with format, row and split counts.
 * The same bytes uploaded again return the existing dataset.
 */
@Injectable()
export class DatasetsService {
  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly audit: AuditService,
  ) {}

  async upload(req: MultipartSource, actor: AuthenticatedKey): Promise<DatasetUploadResultDto> {
    const workspace = await TempWorkspace.create(this.config.tmpDir, 'dataset');
    try {
      const received = await receiveMultipart(req, workspace, datasetMultipartPolicy(this.config));
      const file = received.files.get(DATASET_FILE_FIELD);
      if (!file) throw domainErrors.validation(`the JSONL dataset is missing: send it as file part '${DATASET_FILE_FIELD}'`, { field: DATASET_FILE_FIELD });
      return await this.register(file, parseDatasetUploadFields(received.fields, file.fileName || 'dataset'), actor);
    } finally {
      await workspace.dispose();
    }
  }

  /** Validates a JSONL file already on local disk and stores it (also used by job submissions that carry their dataset). */
  async register(file: StoredTempFile, input: DatasetUploadInput, actor: AuthenticatedKey): Promise<DatasetUploadResultDto> {
    if (file.size > this.config.maxDatasetBytes) {
      throw domainErrors.payloadTooLarge(`dataset is ${file.size} bytes, over MAX_DATASET_BYTES (${this.config.maxDatasetBytes})`);
    }
    const existing = await this.db.prisma.dataset.findUnique({ where: { sha256: file.sha256 } });
    if (existing) return { dataset: toDatasetDto(existing), created: false };
    const scan = await scanJsonlFile(file.path, input.evalFraction);

    const staging = new BlobStaging(this.blobs);
    try {
      await staging.put(file);
      const row = await this.db.transaction(async (tx) => {
        const created = await tx.dataset.create({
          data: { sha256: file.sha256, name: input.name, format: scan.format, rows: scan.rows, sizeBytes: BigInt(file.size), evalFraction: input.evalFraction, trainRows: scan.trainRows, evalRows: scan.evalRows },
        });
        await tx.blobRef.create({ data: { sha256: file.sha256, ownerType: DATASET_OWNER, ownerId: created.id } });
        await this.audit.record(tx, { actor: actor.id, action: 'dataset.create', entityType: 'dataset', entityId: created.id, details: { name: input.name, sha256: file.sha256, rows: scan.rows } });
        return created;
      });
      return { dataset: toDatasetDto(row), created: true };
    } catch (err) {
      await staging.rollback(this.db.prisma);
      // The same bytes registered concurrently: answer as the idempotent path does.
      const raced = isUniqueViolation(err) ? await this.db.prisma.dataset.findUnique({ where: { sha256: file.sha256 } }) : null;
      if (raced) return { dataset: toDatasetDto(raced), created: false };
      throw err;
    }
  }

  async list(limitInput?: string): Promise<DatasetDto[]> {
    const limit = limitInput === undefined ? 100 : Number(limitInput);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw domainErrors.validation(`limit must be an integer in [1, 500], got ${JSON.stringify(limitInput)}`);
    const rows = await this.db.prisma.dataset.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'asc' }], take: limit });
    return rows.map(toDatasetDto);
  }

  async get(ref: string): Promise<DatasetDto> {
    return toDatasetDto(await this.find(ref));
  }

  /** A dataset by id or by sha256; 404 naming the reference otherwise. */
  async find(ref: string): Promise<Dataset> {
    const row = SHA256.test(ref)
      ? await this.db.prisma.dataset.findUnique({ where: { sha256: ref } })
      : await this.db.prisma.dataset.findUnique({ where: { id: ref } });
    if (!row) throw domainErrors.notFound('dataset', ref);
    return row;
  }

  async download(ref: string): Promise<{ dataset: DatasetDto; stream: Readable }> {
    const row = await this.find(ref);
    return { dataset: toDatasetDto(row), stream: await this.blobs.get(row.sha256) };
  }
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'P2002';
}

