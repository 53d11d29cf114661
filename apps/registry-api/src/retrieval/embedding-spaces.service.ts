import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import type { BlobStore } from '@palette/object-store';
import { adapterCaptions, readPeftAdapter, RETRIEVER_MANIFEST_FILE, type LoraWeights } from '@palette/peft-core';
import { AppLogger, domainErrors } from '../common';
import { DatabaseService, vectorLiteral } from '../database';
import { BLOB_STORE } from '../storage/blob-store.provider';
import { RetrieverCache, type LoadedRetriever } from './retriever-cache';
import type { EmbeddingSpaceDto } from './embedding-space.dto';

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
 * - `afterVersionRegistered(versionId)`: the catalog's hook after an upload or a train result:
 *   embeds the version into its base's active space in the background (serialised, one at a
 *   time; `idle()` waits for it). Without an active space nothing is embedded: the weight sketch
 *   (space sketch-v1, computed at upload) is the fallback for similarity, and text search answers
 *   409 until a retriever is installed.
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
        const written = await this.embedVersions(space, [versionId]);
        if (written > 0) this.logger.info({ versionId, space }, 'adapter version embedded into the active space');
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
        card: true,
        adapter: { select: { name: true, description: true, tags: { select: { tag: { select: { name: true } } } } } },
      },
    });
    const adapters: Array<{ id: string; weights: LoraWeights; captions: string[] }> = [];
    for (const row of rows) {
      if (Number(row.sizeBytes) > EMBED_MAX_WEIGHT_BYTES) {
        this.logger.warn({ versionId: row.id, bytes: Number(row.sizeBytes) }, 'adapter too large to embed in-process; skipped');
        continue;
      }
      const [configJson, safetensors] = await Promise.all([this.readBlob(row.configSha256), this.readBlob(row.weightsSha256)]);
      const peft = readPeftAdapter({ configJson: new Uint8Array(configJson), safetensors: new Uint8Array(safetensors.buffer, safetensors.byteOffset, safetensors.byteLength) }, loaded.baseConfig);
      const captions = adapterCaptions({ description: row.adapter.description, card: row.card, tags: row.adapter.tags.map((t) => t.tag.name) });
      adapters.push({ id: row.id, weights: peft.weights, captions });
    }
    if (adapters.length === 0) return 0;
    const zWeights = await loaded.retriever.embedAdapters(adapters.map((a) => a.weights));
    const zTexts = await Promise.all(adapters.map(async (a) => (a.captions.length > 0 ? meanUnit(await loaded.retriever.embedTexts(a.captions)) : null)));
    await this.db.transaction(async (tx) => {
      for (let i = 0; i < adapters.length; i++) {
        const id = adapters[i]!.id;
        const vectors: Array<['weight' | 'text', Float32Array | null]> = [['weight', zWeights[i]!], ['text', zTexts[i]!]];
        for (const [kind, v] of vectors) {
          if (v === null) continue;
          await tx.$executeRaw`INSERT INTO "Embedding" ("adapterVersionId", "kind", "space", "vector")
            VALUES (${id}, ${kind}::"EmbeddingKind", ${space}, ${vectorLiteral(v)}::vector)
            ON CONFLICT ("adapterVersionId", "kind", "space") DO UPDATE SET "vector" = EXCLUDED."vector", "createdAt" = now()`;
        }
      }
    });
    this.changed();
    return adapters.length;
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

/** The normalised mean of unit vectors: one text vector for all of an adapter's captions. */
function meanUnit(vectors: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(vectors[0]!.length);
  for (const v of vectors) for (let i = 0; i < v.length; i++) out[i]! += v[i]!;
  let norm = 0;
  for (const x of out) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return out.map((x) => x / norm);
}
