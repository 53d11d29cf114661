import { Prisma } from '../../generated/prisma/client';
import { SKETCH_SPACE } from '../peft/peft-formats';

/** pgvector's default hnsw.ef_search: an HNSW scan yields at most this many rows. */
export const HNSW_EF_SEARCH = 40;

/** `AND ...` conditions on the joined Adapter `a` and BaseModel `b` for the catalog's search filters. */
export function searchFilters(baseModel: string | undefined, tag: string | undefined): Prisma.Sql {
  const parts: Prisma.Sql[] = [];
  if (baseModel) parts.push(Prisma.sql`AND b."name" = ${baseModel}`);
  if (tag) {
    parts.push(Prisma.sql`AND EXISTS (SELECT 1 FROM "AdapterTag" at JOIN "Tag" t ON t."id" = at."tagId" WHERE at."adapterId" = a."id" AND t."name" = ${tag})`);
  }
  return parts.length === 0 ? Prisma.empty : Prisma.join(parts, ' ');
}

export interface SimilarityQueryInput {
  /** The source sketch in pgvector text form. */
  readonly vector: string;
  readonly excludeAdapterId: string;
  readonly baseModel?: string;
  readonly tag?: string;
  /** Candidate rows wanted (versions; the caller keeps the best per adapter). */
  readonly candidates: number;
}

/**
 * Nearest weight sketches by cosine distance. Unfiltered, with at most ef_search candidates, the
 * ORDER BY is the bare distance so Postgres walks the HNSW index (approximate, fast). With a tag or
 * base-model filter, or more candidates than ef_search, an HNSW scan would hand back fewer rows
 * than asked (it filters AFTER the graph walk), so the ordering expression is written so the index
 * cannot serve it and the scan is exact over the filtered rows.
 */
export function similarityQuery(input: SimilarityQueryInput): Prisma.Sql {
  const exact = Boolean(input.baseModel || input.tag) || input.candidates > HNSW_EF_SEARCH;
  const distance = Prisma.sql`(e."vector" <=> ${input.vector}::vector)`;
  // "+ 0" keeps the value but hides the operator from the planner's index matching.
  const orderBy = exact ? Prisma.sql`${distance} + 0` : distance;
  return Prisma.sql`
    SELECT v."adapterId" AS "adapterId", v."version" AS "version", ${distance}::float8 AS "distance"
    FROM "Embedding" e
    JOIN "AdapterVersion" v ON v."id" = e."adapterVersionId"
    JOIN "Adapter" a ON a."id" = v."adapterId"
    JOIN "BaseModel" b ON b."id" = a."baseModelId"
    WHERE e."kind" = 'weight'::"EmbeddingKind" AND e."space" = ${SKETCH_SPACE}
      AND a."deletedAt" IS NULL AND a."id" <> ${input.excludeAdapterId} ${searchFilters(input.baseModel, input.tag)}
    ORDER BY ${orderBy}
    LIMIT ${input.candidates}`;
}
