/**
 * npm run bench:registry — catalog read throughput over loopback HTTP.
 *
 * Boots the real app (PGlite + directory blob store) in a temp dir, registers a tiny base model
 * through the API, seeds 10,000 adapter versions with direct SQL (2,000 adapters × 5 versions,
 * tags, descriptions, one weight sketch per version), then drives each route with a bounded
 * number of keep-alive connections for a fixed duration and prints requests/s, p50 and p99.
 *
 * Env: BENCH_SECONDS (per route, default 10), BENCH_CONNECTIONS (default 10), BENCH_ADAPTERS
 * (default 2000; 5 versions each), LOG_LEVEL (default 'info', as production runs).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp } from '../src/app.module';
import { ApiKeysService } from '../src/auth/api-keys.service';
import { AppLogger } from '../src/common/logging/app-logger';
import { loadConfig } from '../src/config/app-config';
import { DatabaseService } from '../src/database/database.service';
import { copyTemplateTo } from '../src/testing/pglite-template';
import { buildTinyBaseModel } from '../test/fixtures/peft-fixtures';
import { Prisma } from '../src/generated/prisma/client';
import { similarityQuery } from '../src/catalog/search/similarity.query';
import { runLoad, type RouteResult } from './load-driver';

const ADAPTERS = Number(process.env.BENCH_ADAPTERS ?? 2_000);
const VERSIONS_PER_ADAPTER = 5;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const TASKS = ['German legal contracts', 'medical leaflets', 'Python code reviews', 'customer support tickets', 'financial reports', 'news articles', 'recipes', 'patent claims'];
const TASK_TAGS = ['legal', 'medical', 'code', 'support', 'finance', 'news', 'food', 'patents'];
const VERBS = ['Summarises', 'Translates', 'Classifies', 'Answers questions about', 'Extracts entities from'];

async function seed(db: DatabaseService, baseModelId: string): Promise<void> {
  const sqlArray = (items: string[]) => `ARRAY[${items.map((s) => `'${s.replace(/'/g, "''")}'`).join(',')}]`;
  // Plain statements, no transaction: a bench seed needs no atomicity and must not hit the transaction timeout.
  const tx = db.prisma;
  {
    let t = Date.now();
    const lap = (what: string) => {
      process.stdout.write(`  seed ${what}: ${Date.now() - t} ms\n`);
      t = Date.now();
    };
    await tx.$executeRawUnsafe(
      `INSERT INTO "Adapter" ("name", "baseModelId", "description", "createdAt", "updatedAt")
       SELECT 'bench-' || lpad(i::text, 5, '0'), $1,
              (${sqlArray(VERBS)})[1 + i % ${VERBS.length}] || ' ' || (${sqlArray(TASKS)})[1 + i % ${TASKS.length}] || ' (variant ' || i || ').',
              now() - (i || ' minutes')::interval, now()
       FROM generate_series(1, ${ADAPTERS}) i`,
      baseModelId,
    );
    lap('adapters');
    await tx.$executeRawUnsafe(
      `INSERT INTO "AdapterVersion" ("adapterId", "version", "configSha256", "weightsSha256", "contentDigest", "config", "rank", "targetModules", "sizeBytes")
       SELECT a."id", v, md5(a."id" || v) || md5(a."name" || v), md5(a."name" || v || 'w') || md5(a."id" || 'w'),
              md5(a."id" || v || 'd') || md5(a."name" || 'd'), '{"peft_type":"LORA","r":8,"lora_alpha":16}'::jsonb, 8,
              ARRAY['q_proj','v_proj'], 1048576
       FROM "Adapter" a CROSS JOIN generate_series(1, ${VERSIONS_PER_ADAPTER}) v`,
    );
    lap('versions');
    await tx.$executeRawUnsafe(`INSERT INTO "Tag" ("name") SELECT unnest(${sqlArray([...TASK_TAGS, 'lang:de', 'lang:en'])}) ON CONFLICT DO NOTHING`);
    await tx.$executeRawUnsafe(
      `INSERT INTO "AdapterTag" ("adapterId", "tagId")
       SELECT a."id", t."id" FROM "Adapter" a JOIN "Tag" t
         ON t."name" = (${sqlArray(TASK_TAGS)})[1 + substring(a."name" from 7)::int % ${TASK_TAGS.length}]
         OR t."name" = CASE WHEN substring(a."name" from 7)::int % 2 = 0 THEN 'lang:de' ELSE 'lang:en' END`,
    );
    lap('tags');
    await tx.$executeRawUnsafe(
      `INSERT INTO "AdapterAlias" ("adapterId", "name", "versionId")
       SELECT v."adapterId", 'prod', v."id" FROM "AdapterVersion" v WHERE v."version" = ${VERSIONS_PER_ADAPTER - 1}`,
    );
    // Bulk-building the HNSW index once is much cheaper than maintaining it row by row; the index
    // definition is read from the catalog first so the bench rebuilds exactly what the migration made.
    const [index] = await tx.$queryRawUnsafe<Array<{ def: string }>>(
      `SELECT pg_get_indexdef(indexrelid) AS "def" FROM pg_index WHERE indexrelid = '"Embedding_vector_hnsw_idx"'::regclass`,
    );
    await tx.$executeRawUnsafe(`DROP INDEX "Embedding_vector_hnsw_idx"`);
    // The correlated WHERE makes Postgres draw a fresh random vector per row.
    await tx.$executeRawUnsafe(
      `INSERT INTO "Embedding" ("adapterVersionId", "kind", "space", "vector")
       SELECT v."id", 'weight'::"EmbeddingKind", 'sketch-v1',
              (SELECT array_agg(random() - 0.5)::real[] FROM generate_series(1, 256) WHERE v."id" IS NOT NULL)::vector
       FROM "AdapterVersion" v`,
    );
    lap('embeddings');
    await tx.$executeRawUnsafe(index.def);
    lap('HNSW index build');
    // Fresh planner statistics, as autovacuum would gather on a server (PGlite runs no autovacuum).
    await tx.$executeRawUnsafe('ANALYZE');
    lap('ANALYZE');
  }
}

/** Shows whether the similarity query walks the HNSW index (unfiltered) or scans exactly (filtered). */
async function explainSimilarity(db: DatabaseService): Promise<void> {
  const [probe] = await db.prisma.$queryRaw<Array<{ vector: string; adapterId: string }>>`
    SELECT e."vector"::text AS "vector", v."adapterId" AS "adapterId" FROM "Embedding" e JOIN "AdapterVersion" v ON v."id" = e."adapterVersionId" LIMIT 1`;
  for (const [label, filter] of [['unfiltered', {}], ['tag filter', { tag: 'legal' }]] as const) {
    const sql = similarityQuery({ vector: probe.vector, excludeAdapterId: probe.adapterId, candidates: 40, ...filter });
    const plan = await db.prisma.$queryRaw<Array<{ 'QUERY PLAN': string }>>(Prisma.sql`EXPLAIN ${sql}`);
    const usesHnsw = plan.some((row) => row['QUERY PLAN'].includes('Embedding_vector_hnsw_idx'));
    process.stdout.write(`similarity query (${label}): ${usesHnsw ? 'HNSW index scan' : 'exact scan'}\n`);
  }
}

function printTable(results: readonly RouteResult[]): void {
  const rows = results.map((r) => [r.route, r.requests.toString(), r.errors.toString(), r.requestsPerSecond.toFixed(0), r.p50Ms.toFixed(2), r.p99Ms.toFixed(2)]);
  const header = ['route', 'requests', 'errors', 'req/s', 'p50 ms', 'p99 ms'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'registry-bench-'));
  const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', PORT: '0' });
  if (config.database.kind === 'pglite') await copyTemplateTo(config.database.dataDir);
  // Logs go to a counter, not the terminal: the point is the cost of producing them, not of a TTY.
  let logLines = 0;
  const logger = new AppLogger(config.logLevel, { write: () => void (logLines += 1) });
  const app = await createApp(config, { logger });
  try {
    await app.listen(0, '127.0.0.1');
    const { port } = app.getHttpServer().address() as AddressInfo;
    const baseUrl = `http://127.0.0.1:${port}`;
    const keys = app.get(ApiKeysService);
    const key = (await keys.create({ name: 'bench', role: 'writer' }, null)).plaintext;
    const headers = { authorization: `Bearer ${key}` };

    const form = new FormData();
    form.set('name', 'tiny-llama');
    for (const [file, bytes] of buildTinyBaseModel({ seed: 1 })) form.set(file, new Blob([new Uint8Array(bytes)]), file);
    const res = await fetch(`${baseUrl}/api/v1/base-models`, { method: 'POST', headers, body: form });
    if (res.status !== 201) throw new Error(`base model upload failed: ${res.status} ${await res.text()}`);
    const base = (await res.json()) as { id: string };

    const t0 = Date.now();
    const db = app.get(DatabaseService);
    await seed(db, base.id);
    const versions = await db.prisma.adapterVersion.count();
    process.stdout.write(`seeded ${versions} adapter versions (${ADAPTERS} adapters) in ${Date.now() - t0} ms\n`);
    await explainSimilarity(db);
    process.stdout.write(`load: ${CONNECTIONS} connections, ${SECONDS} s per route, log level ${config.logLevel}\n\n`);

    const names = Array.from({ length: 500 }, (_, i) => `bench-${String(1 + ((i * 7919) % ADAPTERS)).padStart(5, '0')}`);
    const routes: Array<[string, string[]]> = [
      ['GET /adapters/:name', names.map((n) => `/api/v1/adapters/${n}`)],
      ['GET /adapters/:name/versions/prod', names.map((n) => `/api/v1/adapters/${n}/versions/prod`)],
      ['GET /adapters (page of 20)', TASK_TAGS.map((t) => `/api/v1/adapters?limit=20&tag=${t}`).concat(['/api/v1/adapters?limit=20', '/api/v1/adapters?limit=20&sort=createdAt&order=desc'])],
      ['GET /search (full text)', TASKS.map((t) => `/api/v1/search?limit=10&q=${encodeURIComponent(t)}`)],
      ['GET /adapters/:name/similar', names.slice(0, 50).map((n) => `/api/v1/adapters/${n}/similar?limit=10`)],
    ];
    const results: RouteResult[] = [];
    for (const [route, paths] of routes) {
      // Warm-up: every path once (the steady state of a read-mostly catalog is a warm cache), then 2 s of load.
      for (const p of paths) await fetch(`${baseUrl}${p}`, { headers }).then((r) => r.arrayBuffer());
      await runLoad(route, { baseUrl, headers, paths, connections: CONNECTIONS, seconds: Math.min(2, SECONDS) });
      results.push(await runLoad(route, { baseUrl, headers, paths, connections: CONNECTIONS, seconds: SECONDS }));
    }
    printTable(results);
    process.stdout.write(`\nlog lines written: ${logLines}\n`);
    const gets = results.filter((r) => r.route.startsWith('GET /adapters/:name') || r.route.startsWith('GET /adapters ('));
    const goal = gets.every((r) => r.requestsPerSecond >= 1500 && r.p99Ms < 50 && r.errors === 0);
    process.stdout.write(`goal (catalog GETs >= 1500 req/s, p99 < 50 ms, no errors): ${goal ? 'met' : 'NOT met'}\n`);
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
