/**
 * npm run bench:retrieval — pgvector HNSW over the registry's own schema at catalog scale.
 *
 * Builds an in-memory PGlite (+ pgvector) database with the registry's migrations
 * (prisma/migrations through the registry's migration runner), seeds N adapters (one version,
 * one tag and one 256-d weight embedding each; base model and tag each select 10% of them),
 * then measures:
 *   - insert time of the embeddings (batched, HNSW index dropped first),
 *   - HNSW index build time (the registry's index: vector_cosine_ops, m / ef_construction stated),
 *   - recall@k of the HNSW scan against an exact scan over Q held-out queries, per hnsw.ef_search,
 *   - query latency p50 / p95 at the smallest ef_search that reaches the recall goal,
 *   - filtered queries (tag, and base model, each 10% of rows): rows returned and recall vs the
 *     exact filtered scan, with iterative scans off and with `hnsw.iterative_scan = relaxed_order`.
 * With DATABASE_URL set, the same runs against that Postgres (in a scratch schema, dropped after).
 *
 * The vectors are clustered like real adapter embeddings (adapters of one task sit close
 * together): C random unit centres, each vector = centre + isotropic noise, normalised; queries
 * are fresh draws from the same clusters, not rows of the table.
 *
 * Env: BENCH_VECTORS (100000), BENCH_CLUSTERS (1000), BENCH_QUERIES (200), BENCH_K (10),
 * BENCH_NOISE (0.04 per coordinate), HNSW_M (16), HNSW_EF_CONSTRUCTION (64),
 * BENCH_EF_SEARCH (comma list, default 40,80,160,320), DATABASE_URL (optional).
 */
import { performance } from 'node:perf_hooks';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { Client } from 'pg';
import { Rng } from '@palette/peft-core';
import { applyMigrations, readMigrations, type MigrationTarget } from '../src/database/migrations';
import { vectorSearchSql } from '../src/catalog/search/vector-search.query';
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
// Row i is in cluster i % CLUSTERS. Tags and base models are assigned across each cluster's
// members (by i / CLUSTERS), so every cluster holds every tag and base model in equal parts and a
// filter is independent of where the query lands: each selects 10% of the rows and of every cluster.
const TAGS = 10;
const BASE_MODELS = 10;
const INSERT_BATCH = 1_000;
const FILTERED_QUERIES = Math.min(QUERIES, 50);

/** What the bench needs from a database: PGlite and node-postgres both provide it. */
interface BenchDb extends MigrationTarget {
  readonly label: string;
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

/** Seeds base models, adapters, versions and tags in SQL; returns version ids in adapter order. */
async function seedCatalog(db: BenchDb): Promise<string[]> {
  await db.exec(`
    INSERT INTO "BaseModel" ("name", "family", "config")
      SELECT 'bench-base-' || b, 'llama', '{}'::jsonb FROM generate_series(0, ${BASE_MODELS - 1}) b;
    INSERT INTO "Tag" ("name") SELECT 'tag-' || t FROM generate_series(0, ${TAGS - 1}) t;
    INSERT INTO "Adapter" ("name", "baseModelId", "description", "updatedAt")
      SELECT 'bench-' || lpad(i::text, 6, '0'), b."id", 'synthetic adapter ' || i, now()
      FROM generate_series(0, ${N - 1}) i JOIN "BaseModel" b ON b."name" = 'bench-base-' || ((i / ${CLUSTERS * TAGS}) % ${BASE_MODELS});
    INSERT INTO "AdapterVersion" ("adapterId", "version", "configSha256", "weightsSha256", "contentDigest", "config", "rank", "targetModules", "sizeBytes")
      SELECT a."id", 1, md5(a."id"), md5(a."name"), md5(a."id" || a."name"), '{"peft_type":"LORA","r":8}'::jsonb, 8, ARRAY['q_proj','v_proj'], 1048576
      FROM "Adapter" a;
    INSERT INTO "AdapterTag" ("adapterId", "tagId")
      SELECT a."id", t."id" FROM "Adapter" a
      JOIN "Tag" t ON t."name" = 'tag-' || ((substring(a."name" from 7)::int / ${CLUSTERS}) % ${TAGS});
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

/** Filters of 10% selectivity each, as the route's VectorSearchInput fields. */
const FILTERS = {
  none: {},
  tag: { tags: ['tag-3'] },
  base: { baseModel: 'bench-base-7' },
} as const;
type Filter = keyof typeof FILTERS;

/**
 * The route's own statement (catalog/search/vector-search.query.ts: vectorSearchSql), with the
 * query vector as its first parameter; `exact` hides the operator from the planner so no index serves the order.
 */
function searchSql(filter: Filter, exact: boolean): { text: string; at: (query: string) => unknown[] } {
  const probe = '__query__';
  const sql = vectorSearchSql({ vector: probe, space: SPACE, kind: 'weight', limit: K, ...FILTERS[filter] }, exact ? 'exact' : 'hnsw');
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

  for (const filter of ['tag', 'base'] as const) {
    note(`filtered queries (${filter})`);
    const exactSql = searchSql(filter, true);
    const hnswSql = searchSql(filter, false);
    const filteredQueries = queries.slice(0, FILTERED_QUERIES);
    const filteredTruth: string[][] = [];
    const exactFilteredTimes: number[] = [];
    for (const q of filteredQueries) {
      const [ids, ms] = await timed(() => search(db, exactSql, q));
      filteredTruth.push(ids);
      exactFilteredTimes.push(ms);
    }
    exactFilteredTimes.sort((a, b) => a - b);
    const label = filter === 'tag' ? 'tag filter (10%)' : 'base-model filter (10%)';
    rows.push({ metric: `${label}, exact scan of the filtered rows`, value: `p50 ${percentile(exactFilteredTimes, 0.5).toFixed(1)} / p95 ${percentile(exactFilteredTimes, 0.95).toFixed(1)} ms` });
    for (const mode of ['off', 'relaxed_order'] as const) {
      await db.exec(`SET hnsw.iterative_scan = ${mode}`);
      await db.exec('SET hnsw.max_scan_tuples = 20000');
      const usesIndex = await planUsesHnsw(db, hnswSql, filteredQueries[0]!);
      let returned = 0;
      let recall = 0;
      const times: number[] = [];
      for (let i = 0; i < filteredQueries.length; i++) {
        const [ids, ms] = await timed(() => search(db, hnswSql, filteredQueries[i]!));
        returned += ids.length;
        recall += recallAt(ids, filteredTruth[i]!);
        times.push(ms);
      }
      times.sort((a, b) => a - b);
      rows.push({
        metric: `${label}, iterative_scan=${mode}${usesIndex ? '' : ' [planner chose no HNSW]'}`,
        value: `${(returned / filteredQueries.length).toFixed(1)} of ${K} rows, recall ${(recall / filteredQueries.length).toFixed(4)}, p95 ${percentile(times, 0.95).toFixed(1)} ms`,
        goal: mode === 'relaxed_order' ? `k rows ${returned === K * filteredQueries.length ? 'met' : 'MISSED'}` : '',
      });
    }
    await db.exec('SET hnsw.iterative_scan = off');
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
