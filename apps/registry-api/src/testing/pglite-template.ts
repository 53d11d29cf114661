import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { applyMigrations, readMigrations } from '../database/migrations';

// initdb of a fresh PGlite costs ~5 s; copying a migrated data directory ~0.3 s. Test apps start
// from a copy of one template per migration set (keyed by the migrations' checksums), shared
// by every test process on the machine and rebuilt when a migration is added.
let templateReady: Promise<string> | undefined;

export function migratedTemplateDir(): Promise<string> {
  templateReady ??= buildTemplate();
  return templateReady;
}

async function buildTemplate(): Promise<string> {
  const migrations = readMigrations();
  const key = createHash('sha256')
    .update(migrations.map((m) => `${m.name}:${m.checksum}`).join('\n'))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(tmpdir(), 'palette-registry-pglite-templates', key);
  if (existsSync(path.join(dir, 'PG_VERSION'))) return dir;
  // Build beside the final path and rename into place, so a concurrent test process never sees a half-built template.
  const building = `${dir}.building-${randomUUID()}`;
  await mkdir(building, { recursive: true });
  const pglite = await PGlite.create({ dataDir: building, extensions: { vector } });
  try {
    await applyMigrations(
      {
        exec: async (sql) => {
          await pglite.exec(sql);
        },
        query: async <T>(sql: string, params?: unknown[]) => (await pglite.query<T>(sql, params)).rows,
      },
      migrations,
    );
  } finally {
    await pglite.close();
  }
  try {
    await rename(building, dir);
  } catch (error) {
    // Another process won the race: use its template.
    await rm(building, { recursive: true, force: true });
    if (!existsSync(path.join(dir, 'PG_VERSION'))) throw error;
  }
  return dir;
}

/** Seeds `target` (which must not exist yet) with a migrated database. */
export async function copyTemplateTo(target: string): Promise<void> {
  const template = await migratedTemplateDir();
  await mkdir(path.dirname(target), { recursive: true });
  await cp(template, target, { recursive: true });
}
