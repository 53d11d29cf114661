/**
 * npm run bench:retrieval — pgvector HNSW over the registry's own schema at catalog scale.
 *
 * Builds an in-memory PGlite (+ pgvector) database with the registry's migrations
 * (prisma/migrations through the registry's migration runner), seeds N adapters (one version,
 * one tag and one 256-d weight embedding each, all in one space like the global weight-sketch
 * space `sketch-v1`; base model and tag each select ~10% of them, at any N), then measures:
 *   - insert time of the embeddings (batched, HNSW index dropped first),
 *   - HNSW index build time (the registry's index: vector_cosine_ops, m / ef_construction stated),
 *   - recall@k of the HNSW scan against an exact scan over Q held-out queries, per hnsw.ef_search,
 *   - query latency p50 / p95 at the smallest ef_search that reaches the recall goal,
 *   - filtered queries (tag and base model, ~10% of rows each; tag AND base model, ~1%), all run
 *     through the route's own code (vector-search.query.ts `runVectorSearch`): the plan it chooses
 *     and the rows / recall / p95 of that choice, then BOTH plans forced (HNSW with iterative scans,
 *     its exact fallback counted; exact), plus raw HNSW with iterative scans off for comparison.
 *     The route picks exact at ≤ 5,000 estimated candidates, so below ~50,000 vectors its choice is
 *     exact for every filter; the forced runs measure the HNSW path at every size.
 * With DATABASE_URL set, the same runs against that Postgres (in a scratch schema, dropped after).
 *
 * The vectors are clustered like real adapter embeddings (adapters of one task sit close
 * together): C random unit centres, each vector = centre + isotropic noise, normalised; queries
 * are fresh draws from the same clusters, not rows of the table.
 *
 * Env: BENCH_VECTORS (100000), BENCH_CLUSTERS (1000), BENCH_QUERIES (200), BENCH_K (10),
 * BENCH_NOISE (0.04 per coordinate), HNSW_M (16), HNSW_EF_CONSTRUCTION (64),
 * BENCH_EF_SEARCH (comma list, default 40,80,160,320), DATABASE_URL (optional).
 * A reduced run: BENCH_VECTORS=20000 BENCH_QUERIES=100 (1.5–3.5 min on 2 shared cores; the full
 * size took 13 min at load 11 → 6). Figures: root README, "Retrieval — npm run bench:retrieval".
 */
import { performance } from 'node:perf_hooks';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { Client } from 'pg';
import { Rng } from '@palette/peft-core';
import { applyMigrations, readMigrations, type MigrationTarget } from '../src/database/migrations';
import { Prisma } from '../src/generated/prisma/client';
import {
  HNSW_EF_SEARCH,
  HNSW_MAX_SCAN_TUPLES,
  HNSW_SETTINGS,
  runVectorSearch,
  vectorSearchSql,
  vectorSearchWhere,
  type ScanMode,
  type VectorSearchExecutor,
  type VectorSearchInput,
} from '../src/catalog/search/vector-search.query';
import { EMBEDDING_DIMENSIONS, vectorLiteral } from '../src/database/vectors';

const N = Number(process.env.BENCH_VECTORS ?? 100_000);
const CLUSTERS = Number(process.env.BENCH_CLUSTERS ?? 1_000);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 200);
const K = Number(process.env.BENCH_K ?? 10);
const NOISE = Number(process.env.BENCH_NOISE ?? 0.04);
const M = Number(process.env.HNSW_M ?? 16);
const EF_CONSTRUCTION = Number(process.env.HNSW_EF_CONSTRUCTION ?? 64);
const EF_SEARCH = (process.env.BENCH_EF_SEARCH ?? '40,80,160,320').split(',').map(Number);
const RECALL_GOAL = 0.98;
const P95_GOAL_MS = 20;
const SPACE = 'bench-v1';
// Row i is in cluster i % CLUSTERS. Its tag and base model come from two independent hashes of i
// (md5 in the seed SQL), so each filter selects ~10% of the rows (tag AND base ~1%) at any N and
// CLUSTERS, independently of the cluster a query lands in. (An earlier scheme derived them from
// i / CLUSTERS, which only reaches every base model at N ≥ CLUSTERS × 100: below that the
// base-model filter matched no row and the bench reported 0 rows; see selectedRows.)
const TAGS = 10;
const BASE_MODELS = 10;
const INSERT_BATCH = 1_000;
const FILTERED_QUERIES = Math.min(QUERIES, 50);

/** What the bench needs from a database: PGlite and node-postgres both provide it. */
interface BenchDb extends MigrationTarget {
  readonly label: string;
  /** Runs `fn` in one transaction (the route's HNSW path uses SET LOCAL). */
  transaction<T>(fn: (tx: MigrationTarget) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

async function openPglite(): Promise<BenchDb> {
  const pglite = await PGlite.create({ extensions: { vector } });
  return {
    label: 'PGlite (WASM, in-process)',
    exec: async (sql) => {
      await pglite.exec(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) => (await pglite.query<T>(sql, params)).rows,
    transaction: (fn) =>
      pglite.transaction((tx) =>
        fn({
          exec: async (sql) => {
            await tx.exec(sql);
          },
          query: async <R>(sql: string, params?: unknown[]) => (await tx.query<R>(sql, params)).rows,
        }),
      ),
    close: () => pglite.close(),
  };
}

async function openPostgres(url: string): Promise<BenchDb> {
  const client = new Client({ connectionString: url });
  await client.connect();
  // A scratch schema keeps the bench away from any real registry tables in the same database.
  const schema = `palette_retrieval_bench_${Date.now()}`;
  await client.query('CREATE EXTENSION IF NOT EXISTS vector');
  await client.query(`CREATE SCHEMA "${schema}"`);
  await client.query(`SET search_path TO "${schema}", public`);
  const version = (await client.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'`)).rows[0]?.v;
  return {
    label: `Postgres (DATABASE_URL, pgvector ${version ?? '?'})`,
    exec: async (sql) => {
      await client.query(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
    transaction: async (fn) => {
      await client.query('BEGIN');
      try {
        const result = await fn({
          exec: async (sql) => {
            await client.query(sql);
          },
          query: async <R>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as R[],
        });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    },
    close: async () => {
      await client.query(`DROP SCHEMA "${schema}" CASCADE`);
      await client.end();
    },
  };
}

function unit(v: Float32Array): Float32Array {
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}

/** Clustered unit vectors: `count` draws around `centres`, cluster i % C for row i. */
class ClusteredVectors {
  readonly centres: Float32Array[];
  private readonly noise: Rng;

  /** Centres come from `centreSeed`; the noise of each draw from its own `noiseSeed` stream. */
  constructor(centreSeed: number, noiseSeed: number) {
    const rng = new Rng(centreSeed);
    this.centres = Array.from({ length: CLUSTERS }, () => unit(Float32Array.from({ length: EMBEDDING_DIMENSIONS }, () => rng.normal())));
    this.noise = new Rng(noiseSeed);
  }

  draw(cluster: number): Float32Array {
    const centre = this.centres[cluster % CLUSTERS]!;
    return unit(Float32Array.from(centre, (c) => c + NOISE * this.noise.normal()));
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function recallAt(found: string[], truth: string[]): number {
  const want = new Set(truth);
  return found.filter((id) => want.has(id)).length / truth.length;
}

interface Row {
  readonly metric: string;
  readonly value: string;
  readonly goal?: string;
}

/** Progress on stderr while the table builds (the whole run takes minutes). */
function note(message: string): void {
  process.stderr.write(`  … ${message}\n`);
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const result = await fn();
  return [result, performance.now() - t0];
}

/** SQL: a uniform value in [0, mod) from md5 of `salt:expr` (28 bits, so the int is never negative). */
function hashMod(salt: string, expr: string, mod: number): string {
  return `((('x' || substr(md5('${salt}:' || ${expr}), 1, 7))::bit(28)::int) % ${mod})`;
}

/** Seeds base models, adapters, versions and tags in SQL; returns version ids in adapter order. */
async function seedCatalog(db: BenchDb): Promise<string[]> {
  await db.exec(`
    INSERT INTO "BaseModel" ("name", "family", "config")
      SELECT 'bench-base-' || b, 'llama', '{}'::jsonb FROM generate_series(0, ${BASE_MODELS - 1}) b;
    INSERT INTO "Tag" ("name") SELECT 'tag-' || t FROM generate_series(0, ${TAGS - 1}) t;
    INSERT INTO "Adapter" ("name", "baseModelId", "description", "updatedAt")
      SELECT 'bench-' || lpad(i::text, 6, '0'), b."id", 'synthetic adapter ' || i, now()
      FROM generate_series(0, ${N - 1}) i JOIN "BaseModel" b ON b."name" = 'bench-base-' || ${hashMod('base', 'i', BASE_MODELS)};
    INSERT INTO "AdapterVersion" ("adapterId", "version", "configSha256", "weightsSha256", "contentDigest", "config", "rank", "targetModules", "sizeBytes")
      SELECT a."id", 1, md5(a."id"), md5(a."name"), md5(a."id" || a."name"), '{"peft_type":"LORA","r":8}'::jsonb, 8, ARRAY['q_proj','v_proj'], 1048576
      FROM "Adapter" a;
    INSERT INTO "AdapterTag" ("adapterId", "tagId")
      SELECT a."id", t."id" FROM "Adapter" a
      JOIN "Tag" t ON t."name" = 'tag-' || ${hashMod('tag', 'substring(a."name" from 7)::int', TAGS)};
  `);
  const rows = await db.query<{ id: string }>(
    `SELECT v."id" FROM "AdapterVersion" v JOIN "Adapter" a ON a."id" = v."adapterId" ORDER BY a."name"`,
  );
  return rows.map((r) => r.id);
}

async function insertEmbeddings(db: BenchDb, versionIds: string[], data: ClusteredVectors): Promise<void> {
  for (let start = 0; start < versionIds.length; start += INSERT_BATCH) {
    const ids = versionIds.slice(start, start + INSERT_BATCH);
    const vectors = ids.map((_, j) => vectorLiteral(data.draw(start + j)));
    await db.query(
      `INSERT INTO "Embedding" ("adapterVersionId", "kind", "space", "vector")
       SELECT id, 'weight'::"EmbeddingKind", $3, vec::vector FROM unnest($1::text[], $2::text[]) AS t(id, vec)`,
      [ids, vectors, SPACE],
    );
  }
}

/** The catalog filters, as the route's VectorSearchInput fields: ~10%, ~10% and ~1% of the rows. */
const FILTERS = {
  none: {},
  tag: { tags: ['tag-3'] },
  base: { baseModel: 'bench-base-7' },
  'tag+base': { tags: ['tag-3'], baseModel: 'bench-base-7' },
} as const;
type Filter = keyof typeof FILTERS;
const FILTER_LABELS: Record<Filter, string> = { none: 'unfiltered', tag: 'tag filter', base: 'base-model filter', 'tag+base': 'tag + base-model filter' };

function searchInput(filter: Filter, query: string): VectorSearchInput {
  return { vector: query, space: SPACE, kind: 'weight', limit: K, ...FILTERS[filter] };
}

/** The route's executor over the bench's connection (what SearchService gets from Prisma). */
function executorOf(db: BenchDb): VectorSearchExecutor {
  return {
    query: <T>(sql: Prisma.Sql) => db.query<T>(sql.text, sql.values),
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          query: <R>(sql: Prisma.Sql) => tx.query<R>(sql.text, sql.values),
          exec: (statement: string) => tx.exec(statement),
        }),
      ),
  };
}

/**
 * Rows the filter keeps, counted with the route's own WHERE. A filter keeping fewer than k rows
 * cannot return k and would make the filtered figures meaningless (recall NaN, "0 of 10 rows"):
 * that is how a seed whose base models did not reach every name showed up, so it stops the run.
 */
async function selectedRows(db: BenchDb, filter: Filter): Promise<number> {
  const where = vectorSearchWhere(searchInput(filter, '[0]'));
  const sql = Prisma.sql`SELECT count(*)::int AS n FROM "Embedding" e
    JOIN "AdapterVersion" v ON v."id" = e."adapterVersionId"
    JOIN "Adapter" a ON a."id" = v."adapterId"
    JOIN "BaseModel" b ON b."id" = a."baseModelId"
    WHERE ${where}`;
  const n = (await db.query<{ n: number }>(sql.text, sql.values))[0]?.n ?? 0;
  if (n < K) throw new Error(`the ${FILTER_LABELS[filter]} (${JSON.stringify(FILTERS[filter])}) keeps ${n} of ${N} rows, fewer than k=${K}: the seed does not cover it`);
  return n;
}

/** Whether the route's HNSW statement, under the route's SET LOCAL settings, is served by the HNSW index. */
async function routeHnswUsesIndex(db: BenchDb, filter: Filter, query: string): Promise<boolean> {
  const sql = vectorSearchSql(searchInput(filter, query), 'hnsw');
  const plan = await db.transaction(async (tx) => {
    for (const s of HNSW_SETTINGS) await tx.exec(s);
    return tx.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql.text}`, sql.values);
  });
  return plan.some((row) => row['QUERY PLAN'].includes('Embedding_vector_hnsw_idx'));
}

interface PassStats {
  readonly rows: number;
  readonly recall: number;
  readonly p95: number;
  readonly modes: Map<string, number>;
  readonly fellBack: number;
  readonly estimate?: { filtered: number; space: number };
}

/** Runs every query through `run`, scoring against `truth`; modes counts the plan each query took. */
async function pass(
  queries: string[],
  truth: string[][],
  run: (q: string) => Promise<{ ids: string[]; mode?: string; fellBack?: boolean; estimate?: { filtered: number; space: number } }>,
): Promise<PassStats> {
  let rows = 0;
  let recall = 0;
  let fellBack = 0;
  let estimate: { filtered: number; space: number } | undefined;
  const modes = new Map<string, number>();
  const times: number[] = [];
  for (let i = 0; i < queries.length; i++) {
    const [r, ms] = await timed(() => run(queries[i]!));
    rows += r.ids.length;
    recall += recallAt(r.ids, truth[i]!);
    if (r.mode) modes.set(r.mode, (modes.get(r.mode) ?? 0) + 1);
    if (r.fellBack) fellBack++;
    estimate ??= r.estimate;
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  return { rows: rows / queries.length, recall: recall / queries.length, p95: percentile(times, 0.95), modes, fellBack, estimate };
}

function describe(stats: PassStats): string {
  return `${stats.rows.toFixed(1)} of ${K} rows, recall ${stats.recall.toFixed(4)}, p95 ${stats.p95.toFixed(1)} ms`;
}

async function viaRoute(db: VectorSearchExecutor, filter: Filter, query: string, force?: ScanMode) {
  const result = await runVectorSearch(db, searchInput(filter, query), force);
  return { ids: result.hits.map((h) => h.versionId), mode: result.mode, fellBack: result.fellBack, estimate: result.estimate };
}

/**
 * The route's own statement (catalog/search/vector-search.query.ts: vectorSearchSql), with the
 * query vector as its first parameter; `exact` hides the operator from the planner so no index serves the order.
 */
function searchSql(filter: Filter, exact: boolean): { text: string; at: (query: string) => unknown[] } {
  const probe = '__query__';
  const sql = vectorSearchSql(searchInput(filter, probe), exact ? 'exact' : 'hnsw');
  return { text: sql.text, at: (query) => sql.values.map((v) => (v === probe ? query : v)) };
}

async function search(db: BenchDb, sql: ReturnType<typeof searchSql>, query: string): Promise<string[]> {
  return (await db.query<{ versionId: string }>(sql.text, sql.at(query))).map((r) => r.versionId);
}

async function planUsesHnsw(db: BenchDb, sql: ReturnType<typeof searchSql>, query: string): Promise<boolean> {
  const plan = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql.text}`, sql.at(query));
  return plan.some((row) => row['QUERY PLAN'].includes('Embedding_vector_hnsw_idx'));
}

async function runOn(db: BenchDb): Promise<Row[]> {
  const rows: Row[] = [];
  const data = new ClusteredVectors(1, 2);
  const queryGen = new ClusteredVectors(1, 3); // the same clusters, fresh noise: queries are not rows
  const queries = Array.from({ length: QUERIES }, (_, i) => vectorLiteral(queryGen.draw((i * 7919) % CLUSTERS)));

  const [, migrateMs] = await timed(() => applyMigrations(db, readMigrations()));
  rows.push({ metric: 'migrations (registry SQL)', value: `${migrateMs.toFixed(0)} ms` });
  note('seeding the catalog');
  const [versionIds, seedMs] = await timed(() => seedCatalog(db));
  rows.push({ metric: `catalog seed (${N} adapters+versions+tags)`, value: `${(seedMs / 1000).toFixed(1)} s` });

  // Build the index after the load, as a bulk import would: much faster than N incremental inserts.
  await db.exec('DROP INDEX "Embedding_vector_hnsw_idx"');
  note(`inserting ${N} embeddings`);
  const [, insertMs] = await timed(() => insertEmbeddings(db, versionIds, data));
  rows.push({ metric: `insert ${N} vectors (batches of ${INSERT_BATCH}, no index)`, value: `${(insertMs / 1000).toFixed(1)} s (${((N / insertMs) * 1000).toFixed(0)} rows/s)` });
  await db.exec(`SET maintenance_work_mem = '512MB'`);
  note('building the HNSW index');
  const [, buildMs] = await timed(() =>
    db.exec(`CREATE INDEX "Embedding_vector_hnsw_idx" ON "Embedding" USING hnsw ("vector" vector_cosine_ops) WITH (m = ${M}, ef_construction = ${EF_CONSTRUCTION})`),
  );
  rows.push({ metric: `HNSW build (m=${M}, ef_construction=${EF_CONSTRUCTION})`, value: `${(buildMs / 1000).toFixed(1)} s` });
  await db.exec('ANALYZE');

  const unfiltered = searchSql('none', false);
  if (!(await planUsesHnsw(db, unfiltered, queries[0]!))) throw new Error('the planner does not use the HNSW index for the unfiltered query; the figures below would be exact scans');

  note(`exact top-${K} of ${QUERIES} queries`);
  const truth: string[][] = [];
  const exactTimes: number[] = [];
  for (const q of queries) {
    const [ids, ms] = await timed(() => search(db, searchSql('none', true), q));
    truth.push(ids);
    exactTimes.push(ms);
  }
  exactTimes.sort((a, b) => a - b);
  rows.push({ metric: `exact scan p50 / p95 (${QUERIES} queries)`, value: `${percentile(exactTimes, 0.5).toFixed(1)} / ${percentile(exactTimes, 0.95).toFixed(1)} ms` });

  let chosen: { ef: number; recall: number; p50: number; p95: number } | undefined;
  for (const ef of EF_SEARCH) {
    note(`HNSW queries at ef_search=${ef}`);
    await db.exec(`SET hnsw.ef_search = ${ef}`);
    for (const q of queries.slice(0, 10)) await search(db, unfiltered, q); // warm the index pages
    let recall = 0;
    const times: number[] = [];
    for (let i = 0; i < queries.length; i++) {
      const [ids, ms] = await timed(() => search(db, unfiltered, queries[i]!));
      recall += recallAt(ids, truth[i]!);
      times.push(ms);
    }
    recall /= queries.length;
    times.sort((a, b) => a - b);
    const p50 = percentile(times, 0.5);
    const p95 = percentile(times, 0.95);
    rows.push({ metric: `HNSW ef_search=${ef}: recall@${K}, p50 / p95`, value: `${recall.toFixed(4)}, ${p50.toFixed(1)} / ${p95.toFixed(1)} ms` });
    if (!chosen && recall >= RECALL_GOAL) chosen = { ef, recall, p50, p95 };
  }
  if (chosen) {
    rows.push({ metric: `recall@${K} (ef_search=${chosen.ef})`, value: chosen.recall.toFixed(4), goal: `≥ ${RECALL_GOAL} ${chosen.recall >= RECALL_GOAL ? 'met' : 'MISSED'}` });
    rows.push({ metric: `query p95 (ef_search=${chosen.ef})`, value: `${chosen.p95.toFixed(1)} ms`, goal: `≤ ${P95_GOAL_MS} ms ${chosen.p95 <= P95_GOAL_MS ? 'met' : 'MISSED'}` });
  } else {
    rows.push({ metric: `recall@${K}`, value: `< ${RECALL_GOAL} at every ef_search tried (${EF_SEARCH.join(', ')})`, goal: 'MISSED' });
  }
  const ef = chosen?.ef ?? EF_SEARCH[EF_SEARCH.length - 1]!;
  await db.exec(`SET hnsw.ef_search = ${ef}`);

  // Filtered queries, through the route's code. Each filter: the plan the route chooses (and how
  // that does), then both plans forced, so HNSW-with-iterative-scans and exact are measured at
  // every size; raw HNSW with iterative scans off shows what the iterative scan is for.
  const route = executorOf(db);
  const filteredQueries = queries.slice(0, FILTERED_QUERIES);
  for (const filter of ['none', 'tag', 'base', 'tag+base'] as const) {
    note(`filtered queries (${filter})`);
    const kept = await selectedRows(db, filter);
    const label = `${FILTER_LABELS[filter]} (${kept} rows, ${((100 * kept) / N).toFixed(1)}%)`;
    let filteredTruth: string[][];
    if (filter === 'none') {
      filteredTruth = truth.slice(0, FILTERED_QUERIES);
    } else {
      const exactSql = searchSql(filter, true);
      filteredTruth = [];
      for (const q of filteredQueries) filteredTruth.push(await search(db, exactSql, q));
    }

    const chosen = await pass(filteredQueries, filteredTruth, (q) => viaRoute(route, filter, q));
    const modes = [...chosen.modes].map(([mode, n]) => `${mode} ${n}/${filteredQueries.length}`).join(', ');
    const est = chosen.estimate ? `, est. ${chosen.estimate.filtered} of ${chosen.estimate.space}` : '';
    rows.push({
      metric: `${label}: route's plan = ${modes}${chosen.fellBack ? ` (${chosen.fellBack} fell back to exact)` : ''}${est}`,
      value: describe(chosen),
      goal: `k rows ${chosen.rows === K ? 'met' : 'MISSED'}`,
    });
    if (filter === 'none') continue; // the unfiltered plans are measured above

    const hnswUsesIndex = await routeHnswUsesIndex(db, filter, filteredQueries[0]!);
    const hnsw = await pass(filteredQueries, filteredTruth, (q) => viaRoute(route, filter, q, 'hnsw'));
    rows.push({
      metric: `${label}: forced hnsw (iterative relaxed_order, ef_search=${HNSW_EF_SEARCH})${hnswUsesIndex ? '' : ' [planner chose no HNSW]'}${hnsw.fellBack ? `, ${hnsw.fellBack}/${filteredQueries.length} fell back to exact` : ''}`,
      value: describe(hnsw),
      goal: `k rows ${hnsw.rows === K ? 'met' : 'MISSED'}`,
    });
    const exact = await pass(filteredQueries, filteredTruth, (q) => viaRoute(route, filter, q, 'exact'));
    rows.push({ metric: `${label}: forced exact`, value: describe(exact), goal: '' });

    // Raw statement, session settings: the HNSW walk without iterative scans (the chosen ef_search).
    await db.exec('SET hnsw.iterative_scan = off');
    const hnswSql = searchSql(filter, false);
    const offUsesIndex = await planUsesHnsw(db, hnswSql, filteredQueries[0]!);
    const off = await pass(filteredQueries, filteredTruth, async (q) => ({ ids: await search(db, hnswSql, q) }));
    rows.push({ metric: `${label}: raw hnsw, iterative_scan=off, ef_search=${ef}${offUsesIndex ? '' : ' [planner chose no HNSW]'}`, value: describe(off), goal: '' });
    // The route uses relaxed_order; strict_order (same ef_search / max_scan_tuples) for comparison.
    await db.exec(`SET hnsw.ef_search = ${HNSW_EF_SEARCH}`);
    await db.exec(`SET hnsw.max_scan_tuples = ${HNSW_MAX_SCAN_TUPLES}`);
    await db.exec('SET hnsw.iterative_scan = strict_order');
    const strictUsesIndex = await planUsesHnsw(db, hnswSql, filteredQueries[0]!);
    const strict = await pass(filteredQueries, filteredTruth, async (q) => ({ ids: await search(db, hnswSql, q) }));
    rows.push({ metric: `${label}: raw hnsw, iterative_scan=strict_order, ef_search=${HNSW_EF_SEARCH}${strictUsesIndex ? '' : ' [planner chose no HNSW]'}`, value: describe(strict), goal: '' });
    await db.exec('SET hnsw.iterative_scan = off');
    await db.exec(`SET hnsw.ef_search = ${ef}`);
  }
  return rows;
}

function printTable(title: string, rows: Row[]): void {
  const w1 = Math.max(...rows.map((r) => r.metric.length), 6);
  const w2 = Math.max(...rows.map((r) => r.value.length), 5);
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(`| ${'metric'.padEnd(w1)} | ${'value'.padEnd(w2)} | goal\n|${'-'.repeat(w1 + 2)}|${'-'.repeat(w2 + 2)}|-----\n`);
  for (const r of rows) process.stdout.write(`| ${r.metric.padEnd(w1)} | ${r.value.padEnd(w2)} | ${r.goal ?? ''}\n`);
}

async function main(): Promise<void> {
  process.stdout.write(`retrieval bench: ${N} vectors × ${EMBEDDING_DIMENSIONS}d in ${CLUSTERS} clusters (noise ${NOISE}), ${QUERIES} queries, k=${K}\n`);
  const targets: Array<() => Promise<BenchDb>> = [openPglite];
  const url = process.env.DATABASE_URL;
  if (url) targets.push(() => openPostgres(url));
  else process.stdout.write('DATABASE_URL is not set: skipping the real-Postgres run.\n');
  for (const open of targets) {
    const db = await open();
    try {
      const t0 = performance.now();
      const rows = await runOn(db);
      rows.push({ metric: 'total', value: `${((performance.now() - t0) / 1000).toFixed(0)} s` });
      printTable(db.label, rows);
    } finally {
      await db.close();
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
