import { Injectable } from '@nestjs/common';
import { queryAdapterSummariesByIds } from '../adapters/adapter-summary.query';
import { AdaptersService } from '../adapters/adapters.service';
import { parseVersionRef } from '../adapters/version-ref';
import { CatalogReadCache } from '../cache/catalog-read-cache';
import { catalogErrors } from '../catalog-errors';
import { SKETCH_SPACE } from '../peft/peft-formats';
import { DatabaseService, vectorLiteral } from '../platform';
import { EmbeddingSpacesService } from '../../retrieval/embedding-spaces.service';
import type { SearchHitDto, SearchResultDto } from './search-result.dto';
import type { AdapterTextQuery, SimilarQuery, TextSearchQuery } from './search.input';
import { searchFilters } from './similarity.query';
import { runVectorSearch, type VectorHit, type VectorSearchExecutor, type VectorSearchResult } from './vector-search.query';

/** How many extra nearest neighbours to fetch so that deduplicating by adapter still fills `limit`. */
const NEIGHBOUR_OVERFETCH = 4;

/**
 * Search over the catalog: names (prefix/substring), tags, and Postgres full text over names and
 * descriptions (the generated Adapter.searchVector with its GIN index); text → adapters in the
 * base's active learned space (the query embedded by the space's retriever, in-process); and
 * adapter → similar adapters in the learned space when the version has a vector there, else by
 * weight sketch (space sketch-v1). Vector queries: vector-search.query.ts (HNSW + iterative scans,
 * or exact), always filtered to ONE space.
 */
@Injectable()
export class SearchService {
  constructor(
    private readonly db: DatabaseService,
    private readonly adapters_: AdaptersService,
    private readonly cache: CatalogReadCache,
    private readonly spaces: EmbeddingSpacesService,
  ) {
    // New vectors change what a search answers.
    spaces.onEmbeddingsChanged(() => cache.invalidate());
  }

  /** Prisma as the vector query's executor (SET LOCAL needs the transaction). */
  private readonly executor: VectorSearchExecutor = {
    query: <T>(sql: Parameters<VectorSearchExecutor['query']>[0]) => this.db.prisma.$queryRaw<T[]>(sql),
    transaction: (fn) =>
      this.db.transaction((tx) =>
        fn({
          query: <R>(sql: Parameters<VectorSearchExecutor['query']>[0]) => tx.$queryRaw<R[]>(sql),
          exec: async (statement: string) => {
            await tx.$executeRawUnsafe(statement);
          },
        }),
      ),
  };

  /** Text → adapters: the query embedded by the active retriever of the base, nearest adapter weight embeddings. */
  adapters(query: AdapterTextQuery): Promise<SearchResultDto> {
    return this.cache.read(`adapters:${JSON.stringify(query)}`, () => this.adaptersUncached(query));
  }

  text(query: TextSearchQuery): Promise<SearchResultDto> {
    return this.cache.read(`search:${JSON.stringify(query)}`, () => this.textUncached(query));
  }

  similar(name: string, query: SimilarQuery): Promise<SearchResultDto> {
    return this.cache.read(`similar:${name}:${JSON.stringify(query)}`, () => this.similarUncached(name, query));
  }

  private async textUncached(query: TextSearchQuery): Promise<SearchResultDto> {
    const filters = searchFilters(query.baseModel, query.tag);
    let rows: Array<{ id: string; score: number }>;
    if (query.q) {
      // Name hits rank first (an exact name beats any description), then full-text rank.
      const like = `%${escapeLike(query.q)}%`;
      rows = await this.db.prisma.$queryRaw<Array<{ id: string; score: number }>>`
        SELECT a."id", (CASE WHEN a."name" ILIKE ${like} THEN 1 ELSE 0 END + ts_rank(a."searchVector", q))::float8 AS "score"
        FROM "Adapter" a
        JOIN "BaseModel" b ON b."id" = a."baseModelId"
        CROSS JOIN websearch_to_tsquery('english', ${query.q}) q
        WHERE a."deletedAt" IS NULL AND (a."searchVector" @@ q OR a."name" ILIKE ${like}) ${filters}
        ORDER BY "score" DESC, a."name" ASC
        LIMIT ${query.limit}`;
    } else {
      rows = await this.db.prisma.$queryRaw<Array<{ id: string; score: number }>>`
        SELECT a."id", 0::float8 AS "score"
        FROM "Adapter" a
        JOIN "BaseModel" b ON b."id" = a."baseModelId"
        WHERE a."deletedAt" IS NULL ${filters}
        ORDER BY a."name" ASC
        LIMIT ${query.limit}`;
    }
    return { items: await this.hydrate(rows.map((r) => ({ id: r.id, score: r.score, version: null }))) };
  }

  private async adaptersUncached(query: AdapterTextQuery): Promise<SearchResultDto> {
    const target = await this.spaceFor(query.baseModel);
    const loaded = await this.spaces.loadRetriever(target.space);
    const [z] = await loaded.retriever.embedTexts([query.q]);
    const result = await runVectorSearch(this.executor, {
      vector: vectorLiteral(z!),
      space: target.space,
      kind: 'weight',
      baseModel: target.baseModel,
      tags: query.tags,
      limit: query.k * NEIGHBOUR_OVERFETCH,
    });
    return this.vectorResult(result, query.k, target.space);
  }

  /** The active space of `baseModel`, or of the only base with one when none is named. */
  private async spaceFor(baseModel: string | undefined): Promise<{ space: string; baseModel: string }> {
    if (baseModel) {
      const active = await this.spaces.activeSpaceOf(baseModel);
      if (active) return { space: active.space, baseModel };
      const exists = await this.db.prisma.baseModel.findFirst({ where: { name: baseModel, deletedAt: null }, select: { id: true } });
      if (!exists) throw catalogErrors.notFound(`base model "${baseModel}"`, { baseModel });
      throw catalogErrors.conflict(`base model "${baseModel}" has no active embedding space yet: train a retriever for it (train-retriever job) or install one (POST /api/v1/embedding-spaces)`, { baseModel });
    }
    const active = await this.db.prisma.embeddingSpace.findMany({ where: { status: 'active', baseModel: { deletedAt: null } }, select: { id: true, baseModel: { select: { name: true } } } });
    if (active.length === 1) return { space: active[0]!.id, baseModel: active[0]!.baseModel.name };
    if (active.length === 0) throw catalogErrors.conflict('no base model has an active embedding space yet: train a retriever first', { field: 'baseModel' });
    throw catalogErrors.invalid(`'baseModel' is required: several base models have embedding spaces (${active.map((a) => a.baseModel.name).join(', ')})`, { field: 'baseModel' });
  }

  /**
   * Nearest adapters to one version by cosine distance, excluding the adapter itself: in the base's
   * active learned space when the version has a weight vector there, else by weight sketch.
   */
  private async similarUncached(name: string, query: SimilarQuery): Promise<SearchResultDto> {
    const adapterId = await this.adapters_.findId(this.db.prisma, name, false);
    const versionId = await this.adapters_.resolveVersionId(this.db.prisma, adapterId, name, parseVersionRef(query.version));
    const base = await this.db.prisma.adapter.findUniqueOrThrow({ where: { id: adapterId }, select: { baseModelId: true } });
    const learned = await this.spaces.activeSpaceById(base.baseModelId);
    for (const space of learned ? [learned, SKETCH_SPACE] : [SKETCH_SPACE]) {
      const source = await this.db.prisma.$queryRaw<Array<{ vector: string }>>`
        SELECT "vector"::text AS "vector" FROM "Embedding"
        WHERE "adapterVersionId" = ${versionId} AND "kind" = 'weight'::"EmbeddingKind" AND "space" = ${space}`;
      if (source.length === 0) continue;
      const result = await runVectorSearch(this.executor, {
        vector: source[0]!.vector,
        space,
        kind: 'weight',
        excludeAdapterId: adapterId,
        baseModel: query.baseModel,
        tags: query.tag ? [query.tag] : [],
        limit: query.limit * NEIGHBOUR_OVERFETCH,
      });
      return this.vectorResult(result, query.limit, space);
    }
    throw catalogErrors.notFound(`weight embedding of ${name}@${query.version}`, { adapter: name, space: learned ?? SKETCH_SPACE });
  }

  /** Best version per adapter, score = cosine similarity, hydrated in ranking order. */
  private async vectorResult(result: VectorSearchResult, limit: number, space: string): Promise<SearchResultDto> {
    const best = new Map<string, { id: string; score: number; version: number }>();
    for (const r of result.hits as VectorHit[]) {
      if (!best.has(r.adapterId)) best.set(r.adapterId, { id: r.adapterId, score: 1 - r.distance, version: r.version });
    }
    const items = await this.hydrate([...best.values()].slice(0, limit));
    return { items, space, scan: result.fellBack ? 'exact-fallback' : result.mode };
  }

  /** Loads the hits' adapters in one query and keeps the ranking order. */
  private async hydrate(hits: Array<{ id: string; score: number; version: number | null }>): Promise<SearchHitDto[]> {
    const adapters = await queryAdapterSummariesByIds(this.db.prisma, hits.map((h) => h.id));
    const byId = new Map(adapters.map((a) => [a.id, a]));
    return hits.flatMap((h) => {
      const adapter = byId.get(h.id);
      return adapter ? [{ adapter, score: h.score, version: h.version }] : [];
    });
  }
}

/** ILIKE treats % and _ as wildcards; a search for "a_b" means the characters. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
