import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PGlite } from '@electric-sql/pglite';
import { applyMigrations, readMigrations, MigrationError, type MigrationTarget } from './migrations';

describe('migration runner', () => {
  let dir: string;
  let pg: PGlite;
  let target: MigrationTarget;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'migrations-test-'));
    pg = await PGlite.create(); // in memory: these migrations need no extension
    target = {
      exec: async (sql) => {
        await pg.exec(sql);
      },
      query: async <T>(sql: string, params?: unknown[]) => (await pg.query<T>(sql, params)).rows,
    };
  });
  after(async () => {
    await pg.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const write = (name: string, sql: string) => {
    mkdirSync(path.join(dir, name), { recursive: true });
    writeFileSync(path.join(dir, name, 'migration.sql'), sql);
  };

  it('applies folders in name order once, recording Prisma-compatible rows', async () => {
    write('20260102000000_0002_b', 'ALTER TABLE "T" ADD COLUMN "b" INT;');
    write('20260101000000_0001_a', 'CREATE TABLE "T" ("a" INT);');
    const first = await applyMigrations(target, readMigrations(dir));
    assert.deepEqual(first, { applied: ['20260101000000_0001_a', '20260102000000_0002_b'], alreadyApplied: 0 });
    const again = await applyMigrations(target, readMigrations(dir));
    assert.deepEqual(again, { applied: [], alreadyApplied: 2 });
    const rows = (await pg.query<{ migration_name: string; checksum: string; applied_steps_count: number; finished_at: Date | null }>(
      'SELECT migration_name, checksum, applied_steps_count, finished_at FROM "_prisma_migrations" ORDER BY migration_name',
    )).rows;
    assert.equal(rows.length, 2);
    assert.match(rows[0]!.checksum, /^[0-9a-f]{64}$/);
    assert.equal(rows[0]!.applied_steps_count, 1);
    assert.ok(rows[0]!.finished_at);
  });

  it('rolls back a failing migration entirely and names it', async () => {
    write('20260103000000_0003_bad', 'ALTER TABLE "T" ADD COLUMN "c" INT; SELECT * FROM "missing_table";');
    await assert.rejects(applyMigrations(target, readMigrations(dir)), (error: unknown) => error instanceof MigrationError && /0003_bad/.test(error.message));
    const columns = (await pg.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = 'T'`)).rows;
    assert.deepEqual(columns.map((c) => c.column_name).sort(), ['a', 'b']);
    rmSync(path.join(dir, '20260103000000_0003_bad'), { recursive: true });
  });

  it('refuses to start when an applied migration was edited', async () => {
    write('20260101000000_0001_a', 'CREATE TABLE "T" ("a" BIGINT);');
    await assert.rejects(applyMigrations(target, readMigrations(dir)), /0001_a was edited after it was applied/);
  });

  it('reads the repository migrations, 0001_init first', () => {
    const migrations = readMigrations();
    assert.match(migrations[0]!.name, /_0001_init$/);
    assert.match(migrations[0]!.sql, /CREATE EXTENSION IF NOT EXISTS "vector"/);
  });
});
