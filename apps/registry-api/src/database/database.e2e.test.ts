import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mapError } from '../common/error-mapping';
import { createTestApp, type TestApp } from '../testing';
import { copyTemplateTo } from '../testing/pglite-template';
import { DataDirLockedError } from './data-dir-lock';
import { DatabaseService, NestedTransactionError } from './database.service';
import { EMBEDDING_DIMENSIONS, parseVector, vectorLiteral } from './vectors';

function unit(index: number): number[] {
  const v = new Array<number>(EMBEDDING_DIMENSIONS).fill(0);
  v[index] = 1;
  return v;
}

describe('DatabaseService on PGlite + pgvector', () => {
  let t: TestApp;
  let db: DatabaseService;
  before(async () => {
    t = await createTestApp();
    db = t.app.get(DatabaseService);
  });
  after(async () => {
    await t?.close();
  });

  async function seedVersion(name: string) {
    return db.transaction(async (tx) => {
      const base = await tx.baseModel.upsert({ where: { name: 'tiny' }, create: { name: 'tiny', family: 'llama', config: {} }, update: {} });
      const adapter = await tx.adapter.create({ data: { name, baseModelId: base.id, description: `adapter ${name}` } });
      return tx.adapterVersion.create({
        data: {
          adapterId: adapter.id,
          version: 1,
          configSha256: 'c'.repeat(64),
          weightsSha256: 'w'.repeat(64),
          contentDigest: `d-${name}`,
          config: { r: 8 },
          rank: 8,
          targetModules: ['q_proj', 'v_proj'],
          sizeBytes: 5n * 1024n ** 3n,
        },
      });
    });
  }

  it('does CRUD with BigInt sizes, arrays and JSON', async () => {
    const version = await seedVersion('crud');
    const read = await db.prisma.adapterVersion.findUniqueOrThrow({ where: { id: version.id }, include: { adapter: true } });
    assert.equal(read.sizeBytes, 5n * 1024n ** 3n);
    assert.deepEqual(read.targetModules, ['q_proj', 'v_proj']);
    assert.deepEqual(read.config, { r: 8 });
    assert.equal(read.adapter.name, 'crud');
    assert.match(read.id, /^[0-9a-f-]{36}$/);
  });

  it('round-trips every model the migration creates (schema.prisma and 0001_init agree)', async () => {
    const version = await seedVersion('roundtrip');
    const other = await seedVersion('roundtrip-parent');
    await db.transaction(async (tx) => {
      const base = await tx.baseModel.findUniqueOrThrow({ where: { name: 'tiny' } });
      const file = await tx.baseModelFile.create({ data: { baseModelId: base.id, path: 'model.safetensors', blobSha256: 'a'.repeat(64), size: 6n * 1024n ** 3n } });
      assert.equal(file.size, 6n * 1024n ** 3n);
      const alias = await tx.adapterAlias.create({ data: { adapterId: version.adapterId, name: 'prod', versionId: version.id } });
      assert.ok(alias.updatedAt instanceof Date);
      const tag = await tx.tag.create({ data: { name: 'legal' } });
      await tx.adapterTag.create({ data: { adapterId: version.adapterId, tagId: tag.id } });
      const edge = await tx.lineageEdge.create({ data: { childVersionId: version.id, kind: 'transferred_from', parentVersionId: other.id, ref: 'job-1' } });
      assert.equal(edge.kind, 'transferred_from');
      const dataset = await tx.dataset.create({ data: { sha256: 'b'.repeat(64), name: 'contracts', format: 'jsonl', rows: 10, sizeBytes: 123n } });
      assert.equal(dataset.rows, 10);
      const job = await tx.job.create({ data: { kind: 'train', payload: { steps: 10 } } });
      assert.equal(job.status, 'queued');
      assert.deepEqual(job.progress, {});
      assert.equal(job.attempts, 0);
      const updated = await tx.job.update({ where: { id: job.id }, data: { status: 'succeeded', result: { adapter: 'x' }, finishedAt: new Date() } });
      assert.deepEqual(updated.result, { adapter: 'x' });
      await tx.blobRef.createMany({
        data: [
          { sha256: file.blobSha256, ownerType: 'BaseModelFile', ownerId: file.id },
          { sha256: file.blobSha256, ownerType: 'BaseModelFile', ownerId: file.id },
        ],
        skipDuplicates: true,
      });
    });
    const adapter = await db.prisma.adapter.findUniqueOrThrow({
      where: { id: version.adapterId },
      include: { aliases: true, tags: { include: { tag: true } }, versions: { include: { lineageAsChild: true } } },
    });
    assert.deepEqual(adapter.aliases.map((a) => a.name), ['prod']);
    assert.deepEqual(adapter.tags.map((t) => t.tag.name), ['legal']);
    assert.equal(adapter.versions[0]!.lineageAsChild[0]!.parentVersionId, other.id);
    assert.equal(await db.prisma.blobRef.count({ where: { ownerType: 'BaseModelFile' } }), 1);
    // A version may not be deleted while an alias or a child's lineage points at it.
    const blocked = await db.prisma.adapterVersion.delete({ where: { id: other.id } }).then(
      () => assert.fail('deleted a referenced version'),
      (error: unknown) => error,
    );
    assert.equal(mapError(blocked).body.code, 'DEPENDENCY_EXISTS');
  });

  it('writes 256-dim vectors and ranks them with <=> (cosine distance)', async () => {
    const a = await seedVersion('vec-a');
    const b = await seedVersion('vec-b');
    await db.transaction(async (tx) => {
      await tx.$executeRaw`INSERT INTO "Embedding" ("adapterVersionId","kind","space","vector") VALUES (${a.id}, 'weight'::"EmbeddingKind", 'w', ${vectorLiteral(unit(0))}::vector)`;
      await tx.$executeRaw`INSERT INTO "Embedding" ("adapterVersionId","kind","space","vector") VALUES (${b.id}, 'weight'::"EmbeddingKind", 'w', ${vectorLiteral(unit(1))}::vector)`;
    });
    const query = unit(1).map((x, i) => (i === 0 ? 0.2 : x));
    const hits = await db.prisma.$queryRaw<Array<{ id: string; distance: number }>>`
      SELECT "adapterVersionId" AS id, ("vector" <=> ${vectorLiteral(query)}::vector)::float8 AS distance
      FROM "Embedding" WHERE "space" = 'w' ORDER BY "vector" <=> ${vectorLiteral(query)}::vector LIMIT 2`;
    assert.deepEqual(hits.map((h) => h.id), [b.id, a.id]);
    assert.ok(Math.abs(hits[0]!.distance - (1 - 1 / Math.sqrt(1.04))) < 1e-6);
    const [stored] = await db.prisma.$queryRaw<Array<{ v: string }>>`SELECT "vector"::text AS v FROM "Embedding" WHERE "adapterVersionId" = ${a.id}`;
    assert.deepEqual(Array.from(parseVector(stored!.v)), unit(0));
    assert.throws(() => vectorLiteral([1, 2, 3]), /3 dimensions, expected 256/);
    assert.throws(() => vectorLiteral(unit(0).map((x, i) => (i === 5 ? Number.NaN : x))), /component 5/);
  });

  it('finds adapters by full-text search over name and description', async () => {
    await db.transaction(async (tx) => {
      const base = await tx.baseModel.findUniqueOrThrow({ where: { name: 'tiny' } });
      await tx.adapter.create({ data: { name: 'german-legal-summariser', baseModelId: base.id, description: 'Summarises contracts written in German' } });
    });
    const rows = await db.prisma.$queryRaw<Array<{ name: string }>>`
      SELECT name FROM "Adapter" WHERE "searchVector" @@ websearch_to_tsquery('english', ${'german contract'})`;
    assert.deepEqual(rows.map((r) => r.name), ['german-legal-summariser']);
  });

  it('serialises 40 concurrent interactive transactions without losing one', async () => {
    const initial = await db.prisma.tag.count();
    const started = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        db.transaction(async (tx) => {
          // Read-then-write with an await in between: interleaving would break the count.
          const count = await tx.tag.count();
          await new Promise((resolve) => setTimeout(resolve, 5));
          await tx.tag.create({ data: { name: `tag-${i}-seen-${count}` } });
          return count;
        }),
      ),
    );
    const failures = results.filter((r) => r.status === 'rejected');
    assert.equal(failures.length, 0, String((failures[0] as PromiseRejectedResult | undefined)?.reason));
    const counts = results.map((r) => (r as PromiseFulfilledResult<number>).value).sort((x, y) => x - y);
    assert.deepEqual(counts, Array.from({ length: 40 }, (_, i) => initial + i), 'each transaction saw all earlier ones');
    assert.ok(Date.now() - started < 15_000);
    assert.equal(db.queuedTransactions, 0);
  });

  it('keeps plain queries working while transactions queue, and rolls back on throw', async () => {
    const before = await db.prisma.tag.count();
    const outcomes = await Promise.allSettled([
      db.transaction(async (tx) => {
        await tx.tag.create({ data: { name: 'rolled-back' } });
        throw new Error('boom');
      }),
      ...Array.from({ length: 20 }, () => db.prisma.tag.count()),
      db.transaction((tx) => tx.tag.create({ data: { name: 'kept' } })),
    ]);
    assert.equal(outcomes[0]!.status, 'rejected');
    assert.ok(outcomes.slice(1).every((o) => o.status === 'fulfilled'));
    assert.equal(await db.prisma.tag.count(), before + 1);
    assert.equal(await db.prisma.tag.count({ where: { name: 'rolled-back' } }), 0);
  });

  it('refuses a nested transaction instead of deadlocking', async () => {
    await assert.rejects(
      db.transaction(() => db.transaction(async () => 1)),
      NestedTransactionError,
    );
    // The lock was released: the next transaction runs.
    assert.equal(await db.transaction(async () => 7), 7);
  });

  it('serves many parallel HTTP requests (auth reads + lastUsedAt writes) without errors', async () => {
    const keys = await Promise.all((['reader', 'writer', 'admin'] as const).map((role) => t.keyFor(role)));
    const responses = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        i % 3 === 2
          ? t.http.post('/api/v1/keys').set('x-api-key', keys[2]!).send({ name: `parallel-${i}`, role: 'reader' })
          : t.http.post('/graphql').set('x-api-key', keys[i % 3]!).send({ query: '{ me { role } }' }),
      ),
    );
    const statuses = responses.map((r) => r.status);
    assert.deepEqual([...new Set(statuses)].sort(), [200, 201]);
    assert.equal(await db.prisma.apiKey.count({ where: { name: { startsWith: 'parallel-' } } }), 20);
  });
});

describe('persistence in DATA_DIR', () => {
  it('keeps data across a restart on the same directory', async () => {
    const t = await createTestApp();
    try {
      const created = await t.http.post('/api/v1/keys').set('x-api-key', t.adminKey).send({ name: 'survivor', role: 'writer' }).expect(201);
      await t.restart();
      const listed = await t.http.get('/api/v1/keys').set('x-api-key', t.adminKey).expect(200);
      assert.ok(listed.body.some((k: { id: string; name: string }) => k.id === created.body.id && k.name === 'survivor'));
      // The survivor's key still authenticates after the restart, and no second bootstrap key appeared.
      const me = await t.http.post('/graphql').set('x-api-key', created.body.key).send({ query: '{ me { name } }' }).expect(200);
      assert.equal(me.body.data.me.name, 'survivor');
      assert.equal(listed.body.filter((k: { name: string }) => k.name === 'bootstrap-admin').length, 1);
    } finally {
      await t.close();
    }
  });
});

describe('PGlite data directory lock', () => {
  it('refuses a second opener of a directory in use and takes over a stale lock', async () => {
    const t = await createTestApp();
    const dir = mkdtempSync(path.join(tmpdir(), 'registry-lock-'));
    try {
      const database = t.config.database;
      assert.equal(database.kind, 'pglite');
      await assert.rejects(DatabaseService.open(database, { transactionTimeoutMs: 5000 }), DataDirLockedError);

      const dataDir = path.join(dir, 'pglite');
      await copyTemplateTo(dataDir);
      writeFileSync(`${dataDir}.lock`, '2147483646'); // no such process
      const db = await DatabaseService.open({ kind: 'pglite', dataDir }, { transactionTimeoutMs: 5000 });
      await db.ping();
      await db.close();
      assert.equal(existsSync(`${dataDir}.lock`), false, 'released on close');
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
