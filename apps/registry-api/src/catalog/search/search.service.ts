import { Injectable } from '@nestjs/common';
import { queryAdapterSummariesByIds } from '../adapters/adapter-summary.query';
import { AdaptersService } from '../adapters/adapters.service';
import { parseVersionRef } from '../adapters/version-ref';
import { CatalogReadCache } from '../cache/catalog-read-cache';
import { catalogErrors } from '../catalog-errors';
import { SKETCH_SPACE } from '../peft/peft-formats';
import { DatabaseService } from '../platform';
import type { SearchHitDto, SearchResultDto } from './search-result.dto';
import type { SimilarQuery, TextSearchQuery } from './search.input';
import { searchFilters, similarityQuery } from './similarity.query';

/** How many extra nearest neighbours to fetch so that deduplicating by adapter still fills `limit`. */
const NEIGHBOUR_OVERFETCH = 4;

/**
 * Search over the catalog: names (prefix/substring), tags, and Postgres full text over names and
 * descriptions (the generated Adapter.searchVector with its GIN index); and adapter → similar
 * adapters by weight sketch (Embedding, space sketch-v1, HNSW cosine), with base-model/tag filters.
 */
@Injectable()
export class SearchService {
  constructor(
    private readonly db: DatabaseService,
    private readonly adapters: AdaptersService,
    private readonly cache: CatalogReadCache,
  ) {}

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

  /** Nearest adapters to one version's weight sketch by cosine distance, excluding the adapter itself. */
  private async similarUncached(name: string, query: SimilarQuery): Promise<SearchResultDto> {
    const adapterId = await this.adapters.findId(this.db.prisma, name, false);
    const versionId = await this.adapters.resolveVersionId(this.db.prisma, adapterId, name, parseVersionRef(query.version));
    const source = await this.db.prisma.$queryRaw<Array<{ vector: string }>>`
      SELECT "vector"::text AS "vector" FROM "Embedding"
      WHERE "adapterVersionId" = ${versionId} AND "kind" = 'weight'::"EmbeddingKind" AND "space" = ${SKETCH_SPACE}`;
    if (source.length === 0) {
      throw catalogErrors.notFound(`weight sketch of ${name}@${query.version}`, { adapter: name, space: SKETCH_SPACE });
    }
    const rows = await this.db.prisma.$queryRaw<Array<{ adapterId: string; version: number; distance: number }>>(
      similarityQuery({
        vector: source[0].vector,
        excludeAdapterId: adapterId,
        baseModel: query.baseModel,
        tag: query.tag,
        candidates: query.limit * NEIGHBOUR_OVERFETCH,
      }),
    );
    const best = new Map<string, { id: string; score: number; version: number }>();
    for (const r of rows) {
      if (!best.has(r.adapterId)) best.set(r.adapterId, { id: r.adapterId, score: 1 - r.distance, version: r.version });
    }
    return { items: await this.hydrate([...best.values()].slice(0, query.limit)) };
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
