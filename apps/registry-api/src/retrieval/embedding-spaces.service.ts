import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { parseJobPayload, type JobInputs } from '@palette/job-contracts';
import type { BlobStore } from '@palette/object-store';
import { readPeftAdapter, RETRIEVER_MANIFEST_FILE, type LoraWeights } from '@palette/peft-core';
import { AppLogger, domainErrors } from '../common';
import { DatabaseService, vectorLiteral, type Tx } from '../database';
import type { Prisma } from '../generated/prisma/client';
import { JobQueues } from '../jobs/job-queues';
import { BLOB_STORE } from '../storage/blob-store.provider';
import { RetrieverCache, type LoadedRetriever } from './retriever-cache';
import type { EmbeddingSpaceDto } from './embedding-space.dto';
import { CAPTION_SELECT, captionsPerVersionOf, versionCaptions } from './version-captions';

/** One version's vectors in one space (unit vectors; text null without captions). */
export interface VersionVectors {
  readonly versionId: string;
  readonly weight: ArrayLike<number>;
  readonly text: ArrayLike<number> | null;
}

/** The embed job of (version, space): its id is the idempotency key, so enqueueing twice is a no-op. */
export function embedJobId(versionId: string, space: string): string {
  return `embed-${versionId}-${space}`;
}

/** Versions embedded per retriever call while (re-)embedding a base. */
const EMBED_BATCH = 8;
/** Adapters above this many weight bytes are not embedded in-process (their sketch still is, at upload). */
export const EMBED_MAX_WEIGHT_BYTES = 256 * 1024 * 1024;

type SpaceRow = {
  id: string;
  status: 'building' | 'active' | 'retired';
  artifactId: string | null;
  jobId: string | null;
  metadata: unknown;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
  baseModel: { name: string };
  artifact: { name: string; version: number } | null;
};

/**
 * Versioned embedding spaces (one per retriever artifact) and the vectors in them.
 *
 * - **One active space per base model** (a partial unique index enforces it): a retriever is
 *   bound to one base (its weight encoder's layout and its text encoder are that base's), so
 *   "globally one" would be meaningless across bases.
 * - `install(artifact)`: a retriever artifact becomes a space: `building` → every adapter version
 *   of the base embedded (weight + text) → in ONE transaction the previous active space of the
 *   base is `retired` and this one `active` → versions registered meanwhile are back-filled.
 *   Searches keep using the old space until the switch, and never see a half-built one.
 * - `afterVersionRegistered(versionId)`: the catalog's hook after an upload or a train result.
 *   With a job queue (REDIS_URL) it ENQUEUES an `embed` job for the version and its base's active
 *   space (job id embedJobId(version, space): idempotent); the worker computes the vectors and the
 *   embed kind writes them (jobs/kinds/embed.kind.ts). Without Redis it embeds in this process
 *   instead (the documented fallback, so the catalog works without workers). Either way in the
 *   background, serialised (`idle()` waits for the enqueue or the in-process embedding). Without an
 *   active space nothing is embedded: the weight sketch (space sketch-v1, computed at upload) is
 *   the fallback for similarity, and text search answers 409 until a retriever is installed.
 * - `activateTrained(...)`: a train-retriever result: its space and every version's vectors are
 *   written and switched to in the job's result transaction; versions registered while the job ran
 *   are then back-filled (embed jobs).
 */
@Injectable()
export class EmbeddingSpacesService implements BeforeApplicationShutdown {
  private readonly listeners = new Set<() => void>();
  private background: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    private readonly retrievers: RetrieverCache,
    private readonly logger: AppLogger,
    private readonly queues: JobQueues,
  ) {}

  /** Called after embeddings were written (the catalog clears its read cache). */
  onEmbeddingsChanged(listener: () => void): void {
    this.listeners.add(listener);
  }

  /** The active space of a base model (by name), or null. */
  async activeSpaceOf(baseModel: string): Promise<{ space: string; baseModelId: string } | null> {
    const row = await this.db.prisma.embeddingSpace.findFirst({
      where: { status: 'active', baseModel: { name: baseModel, deletedAt: null } },
      select: { id: true, baseModelId: true },
    });
    return row ? { space: row.id, baseModelId: row.baseModelId } : null;
  }

  async activeSpaceById(baseModelId: string): Promise<string | null> {
    const row = await this.db.prisma.embeddingSpace.findFirst({ where: { status: 'active', baseModelId }, select: { id: true } });
    return row?.id ?? null;
  }

  loadRetriever(space: string): Promise<LoadedRetriever> {
    return this.retrievers.get(space);
  }

  async list(baseModel?: string): Promise<EmbeddingSpaceDto[]> {
    const rows = await this.db.prisma.embeddingSpace.findMany({
      where: baseModel ? { baseModel: { name: baseModel } } : {},
      orderBy: { createdAt: 'desc' },
      select: SPACE_SELECT,
    });
    return Promise.all(rows.map((r) => this.toDto(r as SpaceRow)));
  }

  async get(id: string): Promise<EmbeddingSpaceDto> {
    const row = await this.db.prisma.embeddingSpace.findUnique({ where: { id }, select: SPACE_SELECT });
    if (!row) throw domainErrors.notFound('embedding space', id);
    return this.toDto(row as SpaceRow);
  }

  /** The catalog's post-registration hook (see the class comment). Never throws; failures are logged. */
  afterVersionRegistered(versionId: string): void {
    if (this.closed) return;
    this.background = this.background.then(async () => {
      if (this.closed) return;
      try {
        const version = await this.db.prisma.adapterVersion.findUnique({ where: { id: versionId }, select: { adapter: { select: { baseModelId: true } } } });
        if (!version) return;
        const space = await this.activeSpaceById(version.adapter.baseModelId);
        if (space === null) return;
        if (this.queues.enabled) {
          await this.enqueueEmbeds(space, [versionId]);
          return;
        }
        const written = await this.embedVersions(space, [versionId]);
        if (written > 0) this.logger.info({ versionId, space }, 'adapter version embedded into the active space (in-process: no job queue)');
      } catch (error) {
        this.logger.warn({ versionId, err: (error as Error).message }, 'embedding a new adapter version failed; it stays out of the learned space until the next re-embed');
      }
    });
  }

  /** Resolves when background embedding queued so far has finished. */
  idle(): Promise<void> {
    return this.background;
  }

  /**
   * Installs a retriever artifact as its base's active space (see the class comment). Idempotent:
   * an already active space is returned as is. `jobId`: the train-retriever job that produced it.
   */
  async install(artifactId: string, options: { jobId?: string; onProgress?: (done: number, total: number) => void } = {}): Promise<EmbeddingSpaceDto> {
    const artifact = await this.db.prisma.artifact.findUnique({
      where: { id: artifactId },
      select: { id: true, kind: true, name: true, version: true, deletedAt: true, baseModelId: true, metadata: true, files: { select: { path: true, sha256: true } } },
    });
    if (!artifact || artifact.deletedAt) throw domainErrors.notFound('artifact', artifactId);
    if (artifact.kind !== 'retriever') throw domainErrors.validation(`artifact ${artifact.name}@v${artifact.version} is a ${artifact.kind}, not a retriever`, { artifact: artifactId });
    if (!artifact.baseModelId) throw domainErrors.validation(`retriever ${artifact.name}@v${artifact.version} names no base model`, { artifact: artifactId });
    const manifestFile = artifact.files.find((f) => f.path === RETRIEVER_MANIFEST_FILE);
    if (!manifestFile) throw domainErrors.validation(`retriever ${artifact.name}@v${artifact.version} has no ${RETRIEVER_MANIFEST_FILE}`, { artifact: artifactId });
    const manifest = JSON.parse((await this.readBlob(manifestFile.sha256)).toString('utf8')) as { space?: unknown };
    if (typeof manifest.space !== 'string' || manifest.space === '') throw domainErrors.validation(`${RETRIEVER_MANIFEST_FILE} of ${artifact.name}@v${artifact.version} has no space id`, { artifact: artifactId });
    const spaceId = manifest.space;
    const baseModelId = artifact.baseModelId;

    const existing = await this.db.prisma.embeddingSpace.findUnique({ where: { id: spaceId }, select: { status: true, baseModelId: true } });
    if (existing?.status === 'active') return this.get(spaceId);
    if (existing && existing.baseModelId !== baseModelId) throw domainErrors.conflict(`space ${spaceId} belongs to another base model`);
    if (!existing) {
      await this.db.transaction((tx) =>
        tx.embeddingSpace.create({ data: { id: spaceId, baseModelId, artifactId: artifact.id, status: 'building', ...(options.jobId ? { jobId: options.jobId } : {}) } }),
      );
    } else if (existing.status === 'retired') {
      await this.db.transaction((tx) => tx.embeddingSpace.update({ where: { id: spaceId }, data: { status: 'building', retiredAt: null } }));
    }
    // Loads and checks the artifact (its tensors must hash to the space id) before any vector is written.
    await this.retrievers.get(spaceId);

    const versionIds = await this.versionsOfBase(baseModelId);
    let done = 0;
    for (let i = 0; i < versionIds.length; i += EMBED_BATCH) {
      done += await this.embedVersions(spaceId, versionIds.slice(i, i + EMBED_BATCH));
      options.onProgress?.(Math.min(i + EMBED_BATCH, versionIds.length), versionIds.length);
    }
    await this.db.transaction(async (tx) => {
      // The switch: retire, then activate, in one transaction (the partial unique index allows one active).
      await tx.embeddingSpace.updateMany({ where: { baseModelId, status: 'active', NOT: { id: spaceId } }, data: { status: 'retired', retiredAt: new Date() } });
      await tx.embeddingSpace.update({ where: { id: spaceId }, data: { status: 'active', activatedAt: new Date(), metadata: { embeddedVersions: done, artifact: `${artifact.name}@v${artifact.version}` } } });
    });
    // Versions registered while the space was building went to the old space (or none): add them now.
    const missing = await this.versionsMissing(spaceId, baseModelId);
    if (missing.length > 0) await this.embedVersions(spaceId, missing);
    this.changed();
    this.logger.info({ space: spaceId, versions: done + missing.length }, 'embedding space active');
    return this.get(spaceId);
  }

  /** Computes and writes weight + text vectors of versions into `space`; returns how many were written. */
  async embedVersions(space: string, versionIds: readonly string[]): Promise<number> {
    if (versionIds.length === 0) return 0;
    const loaded = await this.retrievers.get(space);
    const rows = await this.db.prisma.adapterVersion.findMany({
      where: { id: { in: [...versionIds] } },
      select: {
        id: true,
        configSha256: true,
        weightsSha256: true,
        sizeBytes: true,
        ...CAPTION_SELECT,
      },
    });
    const maxCaptions = await this.captionsPerVersion(space);
    const adapters: Array<{ id: string; weights: LoraWeights; captions: string[] }> = [];
    for (const row of rows) {
      if (Number(row.sizeBytes) > EMBED_MAX_WEIGHT_BYTES) {
        this.logger.warn({ versionId: row.id, bytes: Number(row.sizeBytes) }, 'adapter too large to embed in-process; skipped');
        continue;
      }
      const [configJson, safetensors] = await Promise.all([this.readBlob(row.configSha256), this.readBlob(row.weightsSha256)]);
      const peft = readPeftAdapter({ configJson: new Uint8Array(configJson), safetensors: new Uint8Array(safetensors.buffer, safetensors.byteOffset, safetensors.byteLength) }, loaded.baseConfig);
      const captions = versionCaptions(row, maxCaptions);
      adapters.push({ id: row.id, weights: peft.weights, captions });
    }
    if (adapters.length === 0) return 0;
    const zWeights = await loaded.retriever.embedAdapters(adapters.map((a) => a.weights));
    const zTexts = await Promise.all(adapters.map((a) => loaded.retriever.embedCaptions(a.captions)));
    await this.db.transaction((tx) => this.writeVectors(tx, space, adapters.map((a, i) => ({ versionId: a.id, weight: zWeights[i]!, text: zTexts[i]! }))));
    this.changed();
    return adapters.length;
  }

  /** Upserts weight (+ text) vectors of versions into `space`, inside the caller's transaction. */
  async writeVectors(tx: Tx, space: string, rows: readonly VersionVectors[]): Promise<void> {
    for (const row of rows) {
      const vectors: Array<['weight' | 'text', ArrayLike<number> | null]> = [['weight', row.weight], ['text', row.text]];
      for (const [kind, v] of vectors) {
        if (v === null) continue;
        await tx.$executeRaw`INSERT INTO "Embedding" ("adapterVersionId", "kind", "space", "vector")
          VALUES (${row.versionId}, ${kind}::"EmbeddingKind", ${space}, ${vectorLiteral(v)}::vector)
          ON CONFLICT ("adapterVersionId", "kind", "space") DO UPDATE SET "vector" = EXCLUDED."vector", "createdAt" = now()`;
      }
    }
  }

  /**
   * Enqueues one `embed` job per version into `space` (its base's files, the space's retriever
   * files, the version's adapter files and captions). Idempotent per (version, space): a job that
   * exists already (any state) is left alone. Returns how many jobs were created.
   */
  async enqueueEmbeds(space: string, versionIds: readonly string[]): Promise<number> {
    if (versionIds.length === 0) return 0;
    const queue = this.queues.queue('embed');
    const row = await this.db.prisma.embeddingSpace.findUnique({
      where: { id: space },
      select: {
        baseModelId: true,
        baseModel: { select: { name: true, files: { select: { path: true, blobSha256: true } } } },
        artifact: { select: { metadata: true, files: { select: { path: true, sha256: true } } } },
      },
    });
    if (!row?.artifact) throw domainErrors.conflict(`embedding space ${space} has no retriever artifact`);
    const baseFiles = Object.fromEntries(row.baseModel.files.map((f) => [f.path, f.blobSha256]));
    const retrieverFiles = Object.fromEntries(row.artifact.files.map((f) => [f.path, f.sha256]));
    const maxCaptions = captionsPerVersionOf(row.artifact.metadata);
    const versions = await this.db.prisma.adapterVersion.findMany({
      where: { id: { in: [...versionIds] } },
      select: { id: true, version: true, configSha256: true, weightsSha256: true, ...CAPTION_SELECT },
    });
    let created = 0;
    for (const v of versions) {
      const jobId = embedJobId(v.id, space);
      const input: JobInputs['embed'] = {
        adapterVersionId: v.id,
        space,
        baseModel: { name: row.baseModel.name, files: baseFiles },
        retriever: retrieverFiles,
        adapter: { 'adapter_config.json': v.configSha256, 'adapter_model.safetensors': v.weightsSha256 },
        captions: versionCaptions(v, maxCaptions),
      };
      const payload = parseJobPayload('embed', input);
      try {
        await this.db.prisma.job.create({
          data: {
            id: jobId,
            kind: 'embed',
            status: 'queued',
            payload: payload as unknown as Prisma.InputJsonObject,
            attempts: 1,
            baseModelId: row.baseModelId,
            registration: { adapter: v.adapter.name, adapterVersion: `${v.adapter.name}@v${v.version}`, adapterVersionId: v.id, space },
          },
        });
      } catch (error) {
        if ((error as { code?: unknown }).code === 'P2002') continue; // enqueued before: one job per (version, space)
        throw error;
      }
      try {
        await queue.add('embed', payload, { jobId, attempts: 1, removeOnComplete: false, removeOnFail: false });
      } catch (error) {
        await this.db.prisma.job.update({ where: { id: jobId }, data: { status: 'failed', error: `enqueueing failed: ${(error as Error).message}`, finishedAt: new Date() } });
        throw error;
      }
      created++;
    }
    if (created > 0) this.logger.info({ space, jobs: created }, 'embed jobs enqueued');
    return created;
  }

  /**
   * A train-retriever result, inside its result transaction: the space row (created, or a
   * retired/building one reused), every version's vectors, and the switch (the base's previous
   * active space retired, this one active). Versions deleted since the job was submitted are
   * skipped. Returns how many versions were written.
   */
  async activateTrained(tx: Tx, input: { space: string; baseModelId: string; artifactId: string; jobId: string; artifact: string; vectors: readonly VersionVectors[] }): Promise<number> {
    const existing = await tx.embeddingSpace.findUnique({ where: { id: input.space }, select: { baseModelId: true, jobId: true } });
    if (existing && existing.baseModelId !== input.baseModelId) throw domainErrors.conflict(`space ${input.space} belongs to another base model`);
    if (!existing) {
      await tx.embeddingSpace.create({ data: { id: input.space, baseModelId: input.baseModelId, artifactId: input.artifactId, status: 'building', jobId: input.jobId } });
    } else {
      // The same artifact bytes from another run: the space is the same; it is rebuilt and activated.
      await tx.embeddingSpace.update({ where: { id: input.space }, data: { status: 'building', retiredAt: null } });
    }
    const alive = new Set(
      (await tx.adapterVersion.findMany({ where: { id: { in: input.vectors.map((v) => v.versionId) }, adapter: { deletedAt: null } }, select: { id: true } })).map((r) => r.id),
    );
    const rows = input.vectors.filter((v) => alive.has(v.versionId));
    await this.writeVectors(tx, input.space, rows);
    await tx.embeddingSpace.updateMany({ where: { baseModelId: input.baseModelId, status: 'active', NOT: { id: input.space } }, data: { status: 'retired', retiredAt: new Date() } });
    await tx.embeddingSpace.update({ where: { id: input.space }, data: { status: 'active', activatedAt: new Date(), metadata: { embeddedVersions: rows.length, artifact: input.artifact, job: input.jobId } } });
    return rows.length;
  }

  /**
   * After a space became active: versions of its base without a vector there (registered while
   * the space was built) are embedded — embed jobs with a queue, in-process without. Never throws.
   */
  async backfill(space: string): Promise<number> {
    try {
      const row = await this.db.prisma.embeddingSpace.findUnique({ where: { id: space }, select: { baseModelId: true, status: true } });
      if (row?.status !== 'active') return 0;
      const missing = await this.versionsMissing(space, row.baseModelId);
      if (missing.length === 0) return 0;
      return this.queues.enabled ? await this.enqueueEmbeds(space, missing) : await this.embedVersions(space, missing);
    } catch (error) {
      this.logger.warn({ space, err: (error as Error).message }, 'back-filling the new space failed; those versions stay out of it until re-embedded');
      return 0;
    }
  }

  /** Tells listeners (the catalog's read cache) that vectors changed. */
  notifyChanged(): void {
    this.changed();
  }

  private async captionsPerVersion(space: string): Promise<number> {
    const row = await this.db.prisma.embeddingSpace.findUnique({ where: { id: space }, select: { artifact: { select: { metadata: true } } } });
    return captionsPerVersionOf(row?.artifact?.metadata);
  }

  private async versionsOfBase(baseModelId: string): Promise<string[]> {
    const rows = await this.db.prisma.adapterVersion.findMany({
      where: { adapter: { baseModelId, deletedAt: null } },
      select: { id: true },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((r) => r.id);
  }

  private async versionsMissing(space: string, baseModelId: string): Promise<string[]> {
    const rows = await this.db.prisma.$queryRaw<Array<{ id: string }>>`
      SELECT v."id" FROM "AdapterVersion" v JOIN "Adapter" a ON a."id" = v."adapterId"
      WHERE a."baseModelId" = ${baseModelId} AND a."deletedAt" IS NULL
        AND NOT EXISTS (SELECT 1 FROM "Embedding" e WHERE e."adapterVersionId" = v."id" AND e."space" = ${space} AND e."kind" = 'weight'::"EmbeddingKind")`;
    return rows.map((r) => r.id);
  }

  private async readBlob(sha256: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of await this.blobs.get(sha256)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private async toDto(row: SpaceRow): Promise<EmbeddingSpaceDto> {
    const counts = await this.db.prisma.embedding.groupBy({ by: ['kind'], where: { space: row.id }, _count: { _all: true } });
    const count = (kind: string): number => counts.find((c) => c.kind === kind)?._count._all ?? 0;
    return {
      id: row.id,
      baseModel: row.baseModel.name,
      status: row.status,
      artifact: row.artifact ? `${row.artifact.name}@v${row.artifact.version}` : null,
      artifactId: row.artifactId,
      jobId: row.jobId,
      weightEmbeddings: count('weight'),
      textEmbeddings: count('text'),
      createdAt: row.createdAt.toISOString(),
      activatedAt: row.activatedAt?.toISOString() ?? null,
      retiredAt: row.retiredAt?.toISOString() ?? null,
    };
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Let the running embedding finish before the database closes under it.
    this.closed = true;
    await this.background;
  }
}

const SPACE_SELECT = {
  id: true,
  status: true,
  artifactId: true,
  jobId: true,
  metadata: true,
  createdAt: true,
  activatedAt: true,
  retiredAt: true,
  baseModel: { select: { name: true } },
  artifact: { select: { name: true, version: true } },
} as const;
