import type { Prisma } from '../../generated/prisma/client';
import type { AdapterVersionDto, LineageEdgeDto } from './adapter.dto';

/** An adapter with what downloads and cards need (base model name, tags). Listing uses adapter-summary.query. */
export const ADAPTER_INCLUDE = {
  baseModel: { select: { name: true } },
  tags: { select: { tag: { select: { name: true } } } },
  aliases: { select: { name: true, versionId: true, updatedAt: true, version: { select: { version: true } } }, orderBy: { name: 'asc' } },
  versions: { select: { version: true }, orderBy: { version: 'desc' }, take: 1 },
  _count: { select: { versions: true } },
} satisfies Prisma.AdapterInclude;

export type AdapterRow = Prisma.AdapterGetPayload<{ include: typeof ADAPTER_INCLUDE }>;

export const VERSION_INCLUDE = {
  adapter: { select: { name: true } },
  aliases: { select: { name: true }, orderBy: { name: 'asc' } },
  lineageAsChild: {
    select: { kind: true, ref: true, parent: { select: { version: true, adapter: { select: { name: true } } } } },
    orderBy: { createdAt: 'asc' },
  },
  _count: { select: { embeddings: true } },
} satisfies Prisma.AdapterVersionInclude;

export type VersionRow = Prisma.AdapterVersionGetPayload<{ include: typeof VERSION_INCLUDE }>;

export function toLineageEdgeDto(edge: VersionRow['lineageAsChild'][number]): LineageEdgeDto {
  return {
    kind: edge.kind,
    parentVersion: edge.parent ? `${edge.parent.adapter.name}@v${edge.parent.version}` : null,
    ref: edge.ref,
  };
}

export function toVersionDto(row: VersionRow): AdapterVersionDto {
  return {
    id: row.id,
    adapter: row.adapter.name,
    version: row.version,
    rank: row.rank,
    targetModules: row.targetModules,
    configSha256: row.configSha256,
    weightsSha256: row.weightsSha256,
    contentDigest: row.contentDigest,
    sizeBytes: Number(row.sizeBytes),
    config: row.config,
    aliases: row.aliases.map((a) => a.name),
    lineage: row.lineageAsChild.map(toLineageEdgeDto),
    hasSketch: row._count.embeddings > 0,
    metrics: row.metrics,
    createdAt: row.createdAt,
  };
}
