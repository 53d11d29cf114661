/**
 * Database look-ups and checks job kinds share at submit time: a base model by name with its files,
 * an adapter version by `name@ref`, a dataset (earlier upload or the request's file part), the
 * context-length check of every example, and parseJobPayload with its errors as a 400.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import { parseModelConfig } from '@palette/peft-core/formats/hf-config';
import { JobContractError, MODEL_CONFIG_FILE, TOKENIZER_FILE, parseJobPayload, type JobKind, type JobPayloads, type ModelFiles } from '@palette/job-contracts';
import type { AuthenticatedKey } from '../../auth';
import { AdaptersService } from '../../catalog/adapters/adapters.service';
import { parseQualifiedVersion } from '../../catalog/adapters/version-ref';
import type { StoredTempFile } from '../../catalog/uploads/hashing-file-writer';
import type { TempWorkspace } from '../../catalog/uploads/temp-workspace';
import { domainErrors } from '../../common';
import { DatabaseService } from '../../database';
import { DEFAULT_EVAL_FRACTION } from '../../datasets/dataset-upload.input';
import { DatasetsService } from '../../datasets/datasets.service';
import type { Dataset, Prisma } from '../../generated/prisma/client';
import { BLOB_STORE } from '../../storage/blob-store.provider';
import { BaseTokenizers } from '../base-tokenizers';
import { assertDatasetFitsContext } from '../dataset-context-check';
import type { DatasetSource } from './submission-fields';

export interface ResolvedBase {
  readonly id: string;
  readonly name: string;
  readonly files: ModelFiles;
  readonly config: Prisma.JsonValue;
}

export interface ResolvedAdapterVersion {
  readonly id: string;
  readonly adapter: string;
  readonly version: number;
  /** `adapter@vN`. */
  readonly qualified: string;
  readonly baseModelId: string;
  readonly baseModel: string;
  readonly configSha256: string;
  readonly weightsSha256: string;
  readonly tags: readonly string[];
}

@Injectable()
export class JobInputs {
  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly datasets: DatasetsService,
    private readonly adapters: AdaptersService,
    private readonly tokenizers: BaseTokenizers,
  ) {}

  /** A base model by name, not deleted, with config.json and tokenizer.json (jobs need both). 404 / 400 otherwise. */
  async baseModel(name: string, field = 'baseModel'): Promise<ResolvedBase> {
    const base = await this.db.prisma.baseModel.findFirst({ where: { name, deletedAt: null }, include: { files: true } });
    if (!base) throw domainErrors.notFound('base model', name, { field });
    const files = Object.fromEntries(base.files.map((f) => [f.path, f.blobSha256])) as ModelFiles;
    for (const required of [MODEL_CONFIG_FILE, TOKENIZER_FILE]) {
      if (files[required] === undefined) throw domainErrors.validation(`${field}: base model "${base.name}" has no ${required}; jobs need it`, { baseModel: base.name, file: required, field });
    }
    return { id: base.id, name: base.name, files, config: base.config };
  }

  /** `adapter@ref` (or a bare name: latest) → the version and its files; 404 naming what is missing. */
  async adapterVersion(qualified: string, field = 'adapter'): Promise<ResolvedAdapterVersion> {
    const { adapter, ref } = parseQualifiedVersion(qualified);
    const row = await this.db.prisma.adapter.findUnique({ where: { name: adapter }, select: { id: true, deletedAt: true, baseModelId: true, baseModel: { select: { name: true } }, tags: { select: { tag: { select: { name: true } } } } } });
    if (!row || row.deletedAt) throw domainErrors.notFound('adapter', adapter, { field });
    const id = await this.adapters.resolveVersionId(this.db.prisma, row.id, adapter, ref);
    const v = await this.db.prisma.adapterVersion.findUniqueOrThrow({ where: { id }, select: { version: true, configSha256: true, weightsSha256: true } });
    return {
      id,
      adapter,
      version: v.version,
      qualified: `${adapter}@v${v.version}`,
      baseModelId: row.baseModelId,
      baseModel: row.baseModel.name,
      configSha256: v.configSha256,
      weightsSha256: v.weightsSha256,
      tags: row.tags.map((t) => t.tag.name),
    };
  }

  /** An earlier upload, or the request's file part registered as a dataset now (validated line by line, size-limited). */
  async dataset(source: DatasetSource, upload: StoredTempFile | undefined, defaultName: string, evalFraction: number | undefined, actor: AuthenticatedKey, part = 'dataset'): Promise<Dataset> {
    if (source.kind === 'existing') return this.datasets.find(source.ref);
    if (!upload) throw domainErrors.validation(`the multipart request has no \`${part}\` file part`, { part });
    const { dataset } = await this.datasets.register(upload, { name: source.name ?? defaultName, evalFraction: evalFraction ?? DEFAULT_EVAL_FRACTION }, actor);
    return this.datasets.find(dataset.id);
  }

  /** Every example ≤ min(context, maxSeqLen) tokens, counted as the trainer counts; 400 naming the first line over. */
  async assertFitsContext(base: ResolvedBase, dataset: Dataset, maxSeqLen: number | undefined): Promise<void> {
    const config = parseModelConfig(base.config);
    const limit =
      maxSeqLen !== undefined && maxSeqLen < config.maxPositionEmbeddings
        ? { maxTokens: maxSeqLen, source: 'hyperparameters.maxSeqLen' }
        : { maxTokens: config.maxPositionEmbeddings, source: `context of base model "${base.name}"` };
    const tokenizer = await this.tokenizers.forModel(base.name, base.files);
    await assertDatasetFitsContext(await this.blobs.get(dataset.sha256), tokenizer, limit);
  }

  /** Copies a blob to a temp file, re-hashing it; 400 when it is missing or its bytes differ. */
  async copyBlob(workspace: TempWorkspace, label: string, f: { readonly sha256: string; readonly size: number }): Promise<StoredTempFile> {
    if (!(await this.blobs.has(f.sha256))) throw domainErrors.validation(`${label} blob ${f.sha256} is not in the object store`, { sha256: f.sha256 });
    const path = workspace.filePath(label);
    const hash = createHash('sha256');
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(await this.blobs.get(f.sha256), meter, createWriteStream(path));
    const sha256 = hash.digest('hex');
    if (sha256 !== f.sha256) throw domainErrors.validation(`${label} blob ${f.sha256} has different content (sha256 ${sha256})`, { sha256: f.sha256 });
    return { path, size, sha256 };
  }
}

/** parseJobPayload with its JobContractError as a 400 listing every issue (field paths as in the payload). */
export function buildPayload<K extends JobKind>(kind: K, input: Record<string, unknown>): JobPayloads[K] {
  try {
    return parseJobPayload(kind, input);
  } catch (err) {
    if (err instanceof JobContractError) throw domainErrors.validation(err.message, { issues: err.issues });
    throw err;
  }
}

/** Copies the defined entries of `from` named in `keys` (absent stays absent, so schema defaults apply). */
export function definedFields(from: Readonly<Record<string, unknown>>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (from[k] !== undefined) out[k] = from[k];
  return out;
}
