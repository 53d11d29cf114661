/**
 * The one vector query of the registry: nearest Embedding rows of ONE space by cosine, with the
 * catalog's filters (base model, tags, an excluded adapter). Used by the search routes (text →
 * adapters, adapter → similar adapters) and by `npm run bench:retrieval`, which runs exactly
 * these statements through its own connection (`VectorSearchExecutor`).
 *
 * Plan choice, per query, from the planner's row estimates (EXPLAIN, no execution):
 * - **exact** (a sequential/bitmap scan over the filtered rows, ordered by the true distance) when the
 *   filtered candidate set is estimated at ≤ EXACT_SCAN_MAX_CANDIDATES rows (an exact scan of 5,000
 *   256-d vectors takes a few ms and is always right), or when the filters keep less than
 *   HARD_FILTER_SELECTIVITY of the space (an HNSW walk would visit ≥ 1/selectivity tuples per hit);
 * - **hnsw** otherwise: the HNSW index with pgvector's iterative scans
 *   (`SET LOCAL hnsw.iterative_scan = relaxed_order`, ef_search HNSW_EF_SEARCH, max_scan_tuples
 *   HNSW_MAX_SCAN_TUPLES) inside a transaction, so rows dropped by the filters after the graph walk
 *   are replaced by walking further; relaxed order is re-sorted by distance here.
 * An HNSW answer with fewer rows than asked (the walk hit max_scan_tuples) is redone exactly, so
 * a filtered query returns k rows whenever k rows match.
 */
import { Prisma } from '../../generated/prisma/client';

/** At or below this many estimated candidates the scan is exact. */
export const EXACT_SCAN_MAX_CANDIDATES = 5_000;
/** Filters keeping less than this share of the space's rows make the scan exact. */
export const HARD_FILTER_SELECTIVITY = 0.02;
/** ef_search of the HNSW walk (bench: recall@10 ≥ 0.98 at 100k from 40 up; 80 leaves margin). */
export const HNSW_EF_SEARCH = 80;
/** How far an iterative scan may walk before giving up (then the query is redone exactly). */
export const HNSW_MAX_SCAN_TUPLES = 20_000;

export type EmbeddingKindName = 'weight' | 'text';

export interface VectorSearchInput {
  /** The query vector in pgvector text form (vectorLiteral). */
  readonly vector: string;
  readonly space: string;
  readonly kind: EmbeddingKindName;
  readonly baseModel?: string;
  /** Every tag must be on the adapter. */
  readonly tags?: readonly string[];
  readonly excludeAdapterId?: string;
  /** Rows wanted (versions; callers keep the best per adapter). */
  readonly limit: number;
}

export interface VectorHit {
  readonly versionId: string;
  readonly adapterId: string;
  readonly version: number;
  readonly distance: number;
}

export type ScanMode = 'exact' | 'hnsw';

/** `AND …` conditions on Embedding e / Adapter a / BaseModel b. The space filter is always there. */
export function vectorSearchWhere(input: VectorSearchInput): Prisma.Sql {
  const parts: Prisma.Sql[] = [
    Prisma.sql`e."space" = ${input.space}`,
    Prisma.sql`e."kind" = ${input.kind}::"EmbeddingKind"`,
    Prisma.sql`a."deletedAt" IS NULL`,
  ];
  if (input.excludeAdapterId) parts.push(Prisma.sql`a."id" <> ${input.excludeAdapterId}`);
  if (input.baseModel) parts.push(Prisma.sql`b."name" = ${input.baseModel}`);
  for (const tag of input.tags ?? []) {
    parts.push(Prisma.sql`EXISTS (SELECT 1 FROM "AdapterTag" at JOIN "Tag" t ON t."id" = at."tagId" WHERE at."adapterId" = a."id" AND t."name" = ${tag})`);
  }
  return Prisma.join(parts, ' AND ');
}

const FROM = Prisma.sql`FROM "Embedding" e
  JOIN "AdapterVersion" v ON v."id" = e."adapterVersionId"
  JOIN "Adapter" a ON a."id" = v."adapterId"
  JOIN "BaseModel" b ON b."id" = a."baseModelId"`;

/** The nearest-neighbour statement. `exact` hides the operator from the planner ("+ 0") so no index serves the order. */
export function vectorSearchSql(input: VectorSearchInput, mode: ScanMode): Prisma.Sql {
  const distance = Prisma.sql`(e."vector" <=> ${input.vector}::vector)`;
  const orderBy = mode === 'exact' ? Prisma.sql`${distance} + 0` : distance;
  return Prisma.sql`
    SELECT e."adapterVersionId" AS "versionId", v."adapterId" AS "adapterId", v."version" AS "version", ${distance}::float8 AS "distance"
    ${FROM}
    WHERE ${vectorSearchWhere(input)}
    ORDER BY ${orderBy}
    LIMIT ${input.limit}`;
}

/** EXPLAIN of the candidate set, with or without the catalog filters (the space filter stays). */
export function candidateEstimateSql(input: VectorSearchInput, withFilters: boolean): Prisma.Sql {
  const where = withFilters ? vectorSearchWhere(input) : vectorSearchWhere({ vector: input.vector, space: input.space, kind: input.kind, limit: input.limit });
  return Prisma.sql`EXPLAIN (FORMAT JSON) SELECT 1 ${FROM} WHERE ${where}`;
}

/** Session settings of an HNSW query; `SET LOCAL` lasts until the end of the transaction. */
export const HNSW_SETTINGS: readonly string[] = [
  `SET LOCAL hnsw.ef_search = ${HNSW_EF_SEARCH}`,
  `SET LOCAL hnsw.iterative_scan = relaxed_order`,
  `SET LOCAL hnsw.max_scan_tuples = ${HNSW_MAX_SCAN_TUPLES}`,
];

/** The rule in the header: exact for small or hard-filtered candidate sets. */
export function chooseScan(filteredEstimate: number, spaceEstimate: number): ScanMode {
  if (filteredEstimate <= EXACT_SCAN_MAX_CANDIDATES) return 'exact';
  if (spaceEstimate > 0 && filteredEstimate / spaceEstimate < HARD_FILTER_SELECTIVITY) return 'exact';
  return 'hnsw';
}

/** What the query needs from a connection: the registry's Prisma transaction or the bench's client. */
export interface VectorSearchExecutor {
  query<T>(sql: Prisma.Sql): Promise<T[]>;
  /** Runs `fn` in one transaction (for SET LOCAL). */
  transaction<T>(fn: (q: { query<R>(sql: Prisma.Sql): Promise<R[]>; exec(statement: string): Promise<void> }) => Promise<T>): Promise<T>;
}

export interface VectorSearchResult {
  readonly hits: VectorHit[];
  readonly mode: ScanMode;
  /** The HNSW answer was short and the query was redone exactly. */
  readonly fellBack: boolean;
  readonly estimate: { readonly filtered: number; readonly space: number };
}

async function planRows(db: Pick<VectorSearchExecutor, 'query'>, sql: Prisma.Sql): Promise<number> {
  const rows = await db.query<{ 'QUERY PLAN': unknown }>(sql);
  const raw = rows[0]?.['QUERY PLAN'];
  const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan?: { 'Plan Rows'?: number } }> | undefined;
  return plan?.[0]?.Plan?.['Plan Rows'] ?? 0;
}

function normalise(rows: Array<VectorHit & { distance: number | string }>): VectorHit[] {
  return rows
    .map((r) => ({ versionId: r.versionId, adapterId: r.adapterId, version: Number(r.version), distance: Number(r.distance) }))
    .sort((x, y) => x.distance - y.distance || (x.versionId < y.versionId ? -1 : 1));
}

/** Runs the search with the plan the estimates choose (see the header). `force` overrides the choice (bench). */
export async function runVectorSearch(db: VectorSearchExecutor, input: VectorSearchInput, force?: ScanMode): Promise<VectorSearchResult> {
  const filtered = await planRows(db, candidateEstimateSql(input, true));
  const space = await planRows(db, candidateEstimateSql(input, false));
  const mode = force ?? chooseScan(filtered, space);
  const estimate = { filtered, space };
  if (mode === 'exact') {
    return { hits: normalise(await db.query(vectorSearchSql(input, 'exact'))), mode, fellBack: false, estimate };
  }
  const hits = normalise(
    await db.transaction(async (q) => {
      for (const s of HNSW_SETTINGS) await q.exec(s);
      return q.query<VectorHit>(vectorSearchSql(input, 'hnsw'));
    }),
  );
  if (hits.length >= input.limit) return { hits, mode, fellBack: false, estimate };
  return { hits: normalise(await db.query(vectorSearchSql(input, 'exact'))), mode, fellBack: true, estimate };
}
