import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { Client as PgClient } from 'pg';
import type { AppConfig } from '../config/app-config';
import { PrismaClient, type Prisma } from '../generated/prisma/client';
import { acquireDataDirLock } from './data-dir-lock';
import { applyMigrations, DEFAULT_MIGRATIONS_DIR, readMigrations, type MigrationResult, type MigrationTarget } from './migrations';
import { Mutex } from './mutex';

/** The client handed to transaction callbacks: every query inside must go through it. */
export type Tx = Prisma.TransactionClient;

export interface DatabaseOpenOptions {
  /** Defaults to the repository's prisma/migrations. */
  migrationsDir?: string;
  transactionTimeoutMs: number;
}

export class NestedTransactionError extends Error {
  constructor() {
    super('DatabaseService.transaction() called inside another transaction; pass the outer `tx` down instead');
    this.name = 'NestedTransactionError';
  }
}

// Postgres advisory lock key Prisma Migrate also takes, so two booting replicas never migrate at once.
const MIGRATION_LOCK_KEY = 72707369;

/**
 * Owns the Prisma 7 client: on embedded PGlite (+ pgvector) persisted under DATA_DIR, or on a
 * real Postgres through DATABASE_URL. Migrations are applied before the client is handed out.
 *
 * PGlite has ONE connection. It serialises plain queries itself, but Prisma interactive
 * transactions waiting on that connection time out ("unable to start a transaction"), so
 * transaction() queues them here. Inside a transaction use only the `tx` given to the callback:
 * a query on `prisma` would wait for the transaction that is waiting for it.
 */
@Injectable()
export class DatabaseService implements OnApplicationShutdown {
  private readonly transactionLock = new Mutex();
  private readonly inTransaction = new AsyncLocalStorage<true>();
  private closed = false;

  private constructor(
    readonly prisma: PrismaClient,
    readonly kind: 'pglite' | 'postgres',
    private readonly transactionTimeoutMs: number,
    readonly migrations: MigrationResult,
    private readonly embedded: { pglite: PGlite; releaseLock: () => void } | undefined,
  ) {}

  static async open(database: AppConfig['database'], options: DatabaseOpenOptions): Promise<DatabaseService> {
    const migrations = readMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
    if (database.kind === 'pglite') {
      mkdirSync(database.dataDir, { recursive: true });
      const releaseLock = acquireDataDirLock(database.dataDir);
      let pglite: PGlite | undefined;
      try {
        pglite = await PGlite.create({ dataDir: database.dataDir, extensions: { vector } });
        const result = await applyMigrations(pgliteTarget(pglite), migrations);
        const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite) });
        return new DatabaseService(prisma, 'pglite', options.transactionTimeoutMs, result, { pglite, releaseLock });
      } catch (error) {
        await pglite?.close();
        releaseLock();
        throw error;
      }
    }
    const result = await migratePostgres(database.url, migrations);
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: database.url }) });
    return new DatabaseService(prisma, 'postgres', options.transactionTimeoutMs, result, undefined);
  }

  /**
   * Runs fn in an interactive transaction; it commits when fn resolves and rolls back when it
   * throws. On PGlite, transactions run one at a time in arrival order.
   */
  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (this.inTransaction.getStore()) throw new NestedTransactionError();
    const run = () =>
      this.inTransaction.run(true, () =>
        this.prisma.$transaction(fn, { maxWait: 10_000, timeout: this.transactionTimeoutMs }),
      );
    return this.kind === 'pglite' ? this.transactionLock.runExclusive(run) : run();
  }

  /** Transactions waiting for PGlite's connection (always 0 on Postgres). */
  get queuedTransactions(): number {
    return this.transactionLock.queued;
  }

  /** Throws when the database does not answer. */
  async ping(): Promise<void> {
    await this.prisma.$queryRaw`SELECT 1`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let queued transactions finish before the connection goes away.
    await this.transactionLock.runExclusive(async () => {
      await this.prisma.$disconnect();
      if (this.embedded) {
        if (!this.embedded.pglite.closed) await this.embedded.pglite.close();
        this.embedded.releaseLock();
      }
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}

function pgliteTarget(pglite: PGlite): MigrationTarget {
  return {
    exec: async (sql) => {
      await pglite.exec(sql);
    },
    query: async <T>(sql: string, params?: unknown[]) => (await pglite.query<T>(sql, params)).rows,
  };
}

async function migratePostgres(url: string, migrations: ReturnType<typeof readMigrations>): Promise<MigrationResult> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    return await applyMigrations(
      {
        exec: async (sql) => {
          await client.query(sql);
        },
        query: async <T>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as T[],
      },
      migrations,
    );
  } finally {
    await client.end();
  }
}
