// Prisma CLI configuration (Prisma 7 reads the datasource URL from here, not from schema.prisma).
// Paths are relative to this file. DATABASE_URL is only needed by commands that talk to a
// database (`prisma migrate deploy`); `prisma generate` runs without it, offline.
import { defineConfig } from 'prisma/config';

const databaseUrl = process.env.DATABASE_URL;

export default defineConfig({
  schema: 'schema.prisma',
  migrations: { path: 'migrations' },
  ...(databaseUrl ? { datasource: { url: databaseUrl } } : {}),
});
