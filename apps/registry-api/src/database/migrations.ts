import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import * as path from 'node:path';

/** One prisma/migrations/<name>/migration.sql file. */
export interface MigrationFile {
  name: string;
  sql: string;
  /** sha256 hex of the file, as Prisma records it in _prisma_migrations.checksum. */
  checksum: string;
}

/** The database operations the runner needs; implemented over PGlite and over node-postgres. */
export interface MigrationTarget {
  /** Runs a script of several statements (simple query protocol). */
  exec(sql: string): Promise<void>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

/** The repository's migrations folder (prisma/migrations at the repo root). */
export const DEFAULT_MIGRATIONS_DIR = path.resolve(__dirname, '../../../../prisma/migrations');

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

/** Migration folders in apply order (their names start with a sortable timestamp, as Prisma's do). */
export function readMigrations(dir: string = DEFAULT_MIGRATIONS_DIR): MigrationFile[] {
  if (!existsSync(dir)) throw new MigrationError(`migrations directory ${dir} does not exist`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(path.join(dir, entry.name, 'migration.sql')))
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

// The same table `prisma migrate deploy` creates, so either tool can take over from the other.
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | string | null;
}

/**
 * Applies every migration not yet recorded, each in its own transaction together with its
 * _prisma_migrations row. Refuses to start when an applied migration's file was edited (its
 * checksum changed) or a previous attempt failed half-way: both need a human.
 */
export async function applyMigrations(target: MigrationTarget, migrations: MigrationFile[]): Promise<MigrationResult> {
  await target.exec(CREATE_MIGRATIONS_TABLE);
  const rows = await target.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL`,
  );
  const applied = new Map(rows.map((row) => [row.migration_name, row]));
  const result: MigrationResult = { applied: [], alreadyApplied: 0 };
  for (const migration of migrations) {
    const row = applied.get(migration.name);
    if (row) {
      if (row.finished_at === null) {
        throw new MigrationError(`migration ${migration.name} started earlier but never finished; repair the database by hand`);
      }
      if (row.checksum !== migration.checksum) {
        throw new MigrationError(
          `migration ${migration.name} was edited after it was applied (checksum ${row.checksum} in the database, ` +
            `${migration.checksum} on disk); migrations are append-only: add a new one instead`,
        );
      }
      result.alreadyApplied += 1;
      continue;
    }
    const id = randomUUID();
    await target.exec('BEGIN');
    try {
      await target.exec(migration.sql);
      await target.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), now(), 1)`,
        [id, migration.checksum, migration.name],
      );
      await target.exec('COMMIT');
    } catch (error) {
      await target.exec('ROLLBACK');
      const reason = error instanceof Error ? error.message : String(error);
      throw new MigrationError(`migration ${migration.name} failed and was rolled back: ${reason}`);
    }
    result.applied.push(migration.name);
  }
  return result;
}
