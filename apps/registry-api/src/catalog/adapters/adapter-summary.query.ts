import { Prisma } from '../../generated/prisma/client';
import type { Tx } from '../platform';
import type { AdapterDto } from './adapter.dto';

type Db = Pick<Tx, '$queryRaw'>;

interface AdapterSummaryRow {
  id: string;
  name: string;
  description: string;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
  baseModel: string;
  tags: string[];
  aliases: Array<{ name: string; version: number; versionId: string; updatedAt: string }>;
  latestVersion: number | null;
  versionCount: number;
}

/**
 * AdapterDtos in ONE query (tags, aliases, latest version and count as sub-selects), instead of
 * the six round trips a nested Prisma include costs. On embedded PGlite each round trip is
 * ~1 ms of the server's own CPU, so this is what makes catalog reads cheap. `where` filters `a`
 * (the Adapter row); results keep no particular order.
 */
export async function queryAdapterSummaries(db: Db, where: Prisma.Sql): Promise<AdapterDto[]> {
  const rows = await db.$queryRaw<AdapterSummaryRow[]>`
    SELECT a."id", a."name", a."description", a."createdAt", a."updatedAt", a."deletedAt", b."name" AS "baseModel",
      COALESCE((SELECT array_agg(t."name" ORDER BY t."name") FROM "AdapterTag" at JOIN "Tag" t ON t."id" = at."tagId"
                WHERE at."adapterId" = a."id"), ARRAY[]::text[]) AS "tags",
      COALESCE((SELECT json_agg(json_build_object('name', al."name", 'version', v."version", 'versionId', al."versionId",
                                                  'updatedAt', al."updatedAt") ORDER BY al."name")
                FROM "AdapterAlias" al JOIN "AdapterVersion" v ON v."id" = al."versionId" WHERE al."adapterId" = a."id"), '[]'::json) AS "aliases",
      (SELECT max(v."version") FROM "AdapterVersion" v WHERE v."adapterId" = a."id") AS "latestVersion",
      (SELECT count(*)::int FROM "AdapterVersion" v WHERE v."adapterId" = a."id") AS "versionCount"
    FROM "Adapter" a JOIN "BaseModel" b ON b."id" = a."baseModelId"
    WHERE ${where}`;
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    baseModel: r.baseModel,
    description: r.description,
    tags: r.tags,
    // json_build_object renders timestamps as text; they are UTC without a zone marker.
    aliases: r.aliases.map((a) => ({ name: a.name, version: a.version, versionId: a.versionId, updatedAt: new Date(`${a.updatedAt}Z`) })),
    latestVersion: r.latestVersion,
    versionCount: r.versionCount,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    deletedAt: r.deletedAt,
  }));
}

/** Summaries for `ids`, in the order given (ids not found are skipped). */
export async function queryAdapterSummariesByIds(db: Db, ids: readonly string[]): Promise<AdapterDto[]> {
  if (ids.length === 0) return [];
  const found = await queryAdapterSummaries(db, Prisma.sql`a."id" IN (${Prisma.join(ids)})`);
  const byId = new Map(found.map((a) => [a.id, a]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}
