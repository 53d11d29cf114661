import { Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { CatalogReadCache } from '../cache/catalog-read-cache';
import { catalogErrors } from '../catalog-errors';
import { MAX_DESCRIPTION_CHARS, optionalText, parseTags } from '../catalog-input';
import { AuditService, DatabaseService, type AuthenticatedKey, type Tx } from '../platform';
import { ADAPTER_INCLUDE, VERSION_INCLUDE, toLineageEdgeDto, toVersionDto, type AdapterRow } from './adapter-mapper';
import type { AdapterDto, AdapterPageDto, AdapterVersionDto, LineageDto } from './adapter.dto';
import { queryAdapterSummaries, queryAdapterSummariesByIds } from './adapter-summary.query';
import { encodeCursor, type AdapterListQuery } from './list-adapters.input';
import { describeRef, parseVersionRef, requireAliasName, type VersionRef } from './version-ref';

type Db = Tx | DatabaseService['prisma'];
/** The little of an adapter row that mutations need. */
type AdapterRef = { id: string; deletedAt: Date | null };

/**
 * Adapters after upload: lookup, listing, versions, aliases, tags, description, soft delete and
 * restore, lineage. Every mutation runs in one transaction with its audit record.
 */
@Injectable()
export class AdaptersService {
  constructor(
    private readonly db: DatabaseService,
    private readonly audit: AuditService,
    private readonly cache: CatalogReadCache,
  ) {}

  get(name: string, options: { includeDeleted?: boolean } = {}): Promise<AdapterDto> {
    const includeDeleted = options.includeDeleted ?? false;
    return this.cache.read(`adapter:${includeDeleted}:${name}`, async () => {
      const [found] = await queryAdapterSummaries(this.db.prisma, Prisma.sql`a."name" = ${name}`);
      if (!found || (found.deletedAt && !includeDeleted)) throw catalogErrors.notFound(`adapter "${name}"`, { adapter: name });
      return found;
    });
  }

  list(query: AdapterListQuery): Promise<AdapterPageDto> {
    return this.cache.read(`list:${JSON.stringify(query)}`, () => this.listUncached(query));
  }

  private async listUncached(query: AdapterListQuery): Promise<AdapterPageDto> {
    const where: Prisma.AdapterWhereInput[] = [];
    if (!query.includeDeleted) where.push({ deletedAt: null });
    if (query.baseModel) where.push({ baseModel: { name: query.baseModel } });
    if (query.tag) where.push({ tags: { some: { tag: { name: query.tag } } } });
    if (query.namePrefix) where.push({ name: { startsWith: query.namePrefix } });
    if (query.createdAfter) where.push({ createdAt: { gte: query.createdAfter } });
    if (query.createdBefore) where.push({ createdAt: { lt: query.createdBefore } });
    if (query.cursor) {
      const { sort, value, id } = query.cursor;
      const typed = sort === 'name' ? value : new Date(value);
      const cmp = query.order === 'asc' ? 'gt' : 'lt';
      where.push({ OR: [{ [sort]: { [cmp]: typed } }, { [sort]: typed, id: { [cmp]: id } }] });
    }
    const rows = await this.db.prisma.adapter.findMany({
      where: { AND: where },
      select: { id: true, name: true, createdAt: true, updatedAt: true },
      orderBy: [{ [query.sort]: query.order }, { id: query.order }],
      take: query.limit + 1,
    });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    const nextCursor =
      rows.length > query.limit && last
        ? encodeCursor({ sort: query.sort, order: query.order, value: sortValue(last, query.sort), id: last.id })
        : null;
    return { items: await queryAdapterSummariesByIds(this.db.prisma, page.map((r) => r.id)), nextCursor };
  }

  versions(name: string): Promise<AdapterVersionDto[]> {
    return this.cache.read(`versions:${name}`, () => this.versionsUncached(name));
  }

  private async versionsUncached(name: string): Promise<AdapterVersionDto[]> {
    const adapterId = await this.findId(this.db.prisma, name, false);
    const rows = await this.db.prisma.adapterVersion.findMany({
      where: { adapterId },
      include: VERSION_INCLUDE,
      orderBy: { version: 'asc' },
    });
    return rows.map(toVersionDto);
  }

  version(name: string, ref: string): Promise<AdapterVersionDto> {
    return this.cache.read(`version:${name}@${ref}`, () => this.versionUncached(name, ref));
  }

  private async versionUncached(name: string, ref: string): Promise<AdapterVersionDto> {
    const parsed = parseVersionRef(ref);
    // One lookup by adapter name and reference (a router's cold load waits on it); only a miss
    // takes the step-by-step path, which says whether the adapter or the version is missing.
    const row = await this.db.prisma.adapterVersion.findFirst({ where: { adapter: { name, deletedAt: null }, ...versionWhere(parsed) }, orderBy: { version: 'desc' }, include: VERSION_INCLUDE });
    if (row) return toVersionDto(row);
    const adapterId = await this.findId(this.db.prisma, name, false);
    const id = await this.resolveVersionId(this.db.prisma, adapterId, name, parsed);
    return toVersionDto(await this.db.prisma.adapterVersion.findUniqueOrThrow({ where: { id }, include: VERSION_INCLUDE }));
  }

  lineage(name: string, ref: string): Promise<LineageDto> {
    return this.cache.read(`lineage:${name}@${ref}`, () => this.lineageUncached(name, ref));
  }

  private async lineageUncached(name: string, ref: string): Promise<LineageDto> {
    const version = await this.version(name, ref);
    const children = await this.db.prisma.lineageEdge.findMany({
      where: { parentVersionId: version.id },
      select: { child: { select: { version: true, adapter: { select: { name: true } } } } },
      orderBy: { createdAt: 'asc' },
    });
    const edges = await this.db.prisma.lineageEdge.findMany({
      where: { childVersionId: version.id },
      select: { kind: true, ref: true, parent: { select: { version: true, adapter: { select: { name: true } } } } },
      orderBy: { createdAt: 'asc' },
    });
    return {
      version: `${name}@v${version.version}`,
      edges: edges.map(toLineageEdgeDto),
      children: children.map((c) => `${c.child.adapter.name}@v${c.child.version}`),
    };
  }

  /** Points `alias` at a version, creating or moving it. */
  async setAlias(name: string, aliasInput: unknown, refInput: unknown, actor: AuthenticatedKey): Promise<AdapterDto> {
    const alias = requireAliasName(aliasInput);
    if (typeof refInput !== 'string' || refInput === '') throw catalogErrors.invalid(`'version' is required`, { field: 'version' });
    const ref = parseVersionRef(refInput);
    return this.mutate(name, actor, 'adapter.alias.set', async (tx, adapter) => {
      const versionId = await this.resolveVersionId(tx, adapter.id, name, ref);
      const previous = await tx.adapterAlias.findUnique({ where: { adapterId_name: { adapterId: adapter.id, name: alias } } });
      await tx.adapterAlias.upsert({
        where: { adapterId_name: { adapterId: adapter.id, name: alias } },
        create: { adapterId: adapter.id, name: alias, versionId },
        update: { versionId },
      });
      return { alias, versionId, previousVersionId: previous?.versionId ?? null };
    });
  }

  async removeAlias(name: string, aliasInput: unknown, actor: AuthenticatedKey): Promise<AdapterDto> {
    const alias = requireAliasName(aliasInput);
    return this.mutate(name, actor, 'adapter.alias.remove', async (tx, adapter) => {
      const removed = await tx.adapterAlias.deleteMany({ where: { adapterId: adapter.id, name: alias } });
      if (removed.count === 0) throw catalogErrors.notFound(`alias "${alias}" of adapter "${name}"`, { alias });
      return { alias };
    });
  }

  /** Replaces the adapter's tags with `tags`. */
  async setTags(name: string, tagsInput: unknown, actor: AuthenticatedKey): Promise<AdapterDto> {
    const tags = parseTags(tagsInput);
    return this.mutate(name, actor, 'adapter.tags.set', async (tx, adapter) => {
      await tx.adapterTag.deleteMany({ where: { adapterId: adapter.id } });
      await this.attachTags(tx, adapter.id, tags);
      return { tags };
    });
  }

  async addTags(name: string, tagsInput: unknown, actor: AuthenticatedKey): Promise<AdapterDto> {
    const tags = parseTags(tagsInput);
    if (tags.length === 0) throw catalogErrors.invalid(`'tags' must name at least one tag`, { field: 'tags' });
    return this.mutate(name, actor, 'adapter.tags.add', async (tx, adapter) => {
      await this.attachTags(tx, adapter.id, tags);
      return { tags };
    });
  }

  async removeTag(name: string, tagInput: string, actor: AuthenticatedKey): Promise<AdapterDto> {
    const [tag] = parseTags([tagInput], 'tag');
    return this.mutate(name, actor, 'adapter.tags.remove', async (tx, adapter) => {
      const removed = await tx.adapterTag.deleteMany({ where: { adapterId: adapter.id, tag: { name: tag } } });
      if (removed.count === 0) throw catalogErrors.notFound(`tag "${tag}" on adapter "${name}"`, { tag });
      return { tag };
    });
  }

  async setDescription(name: string, descriptionInput: unknown, actor: AuthenticatedKey): Promise<AdapterDto> {
    const description = optionalText(descriptionInput, 'description', MAX_DESCRIPTION_CHARS);
    if (description === undefined) throw catalogErrors.invalid(`'description' is required`, { field: 'description' });
    return this.mutate(name, actor, 'adapter.describe', async (tx, adapter) => {
      await tx.adapter.update({ where: { id: adapter.id }, data: { description } });
      return { chars: description.length };
    });
  }

  /** Soft delete: hidden from listings and search, kept with its versions and blobs until purged. */
  async softDelete(name: string, actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.mutate(name, actor, 'adapter.delete', async (tx, adapter) => {
      await tx.adapter.update({ where: { id: adapter.id }, data: { deletedAt: new Date() } });
      return {};
    });
  }

  async restore(name: string, actor: AuthenticatedKey): Promise<AdapterDto> {
    return this.mutate(
      name,
      actor,
      'adapter.restore',
      async (tx, adapter) => {
        if (!adapter.deletedAt) throw catalogErrors.conflict(`adapter "${name}" is not deleted`, { adapter: name });
        await tx.adapter.update({ where: { id: adapter.id }, data: { deletedAt: null } });
        return {};
      },
      { includeDeleted: true },
    );
  }

  /**
   * Hard delete of a soft-deleted adapter: rows go (versions, aliases, tags, lineage, embeddings,
   * blob references); blobs are left to garbage collection. Refused while another adapter's
   * version names one of its versions as parent.
   */
  async purge(name: string, actor: AuthenticatedKey): Promise<{ purged: true; name: string }> {
    await this.db.transaction(async (tx) => {
      const adapter = await this.loadRef(tx, name, true);
      if (!adapter.deletedAt) throw catalogErrors.conflict(`adapter "${name}" must be deleted before it is purged`, { adapter: name });
      const versions = await tx.adapterVersion.findMany({ where: { adapterId: adapter.id }, select: { id: true } });
      const ids = versions.map((v) => v.id);
      const dependants = await tx.lineageEdge.findMany({
        where: { parentVersionId: { in: ids }, child: { adapterId: { not: adapter.id } } },
        select: { child: { select: { version: true, adapter: { select: { name: true } } } } },
        take: 10,
      });
      if (dependants.length > 0) {
        const names = dependants.map((d) => `${d.child.adapter.name}@v${d.child.version}`);
        throw catalogErrors.dependencyExists(`adapter "${name}" is the parent of ${names.join(', ')}`, { dependants: names });
      }
      await tx.adapterAlias.deleteMany({ where: { adapterId: adapter.id } });
      await tx.lineageEdge.deleteMany({ where: { OR: [{ childVersionId: { in: ids } }, { parentVersionId: { in: ids } }] } });
      await tx.blobRef.deleteMany({ where: { ownerType: 'adapter_version', ownerId: { in: ids } } });
      await tx.adapterVersion.deleteMany({ where: { adapterId: adapter.id } });
      await tx.adapter.delete({ where: { id: adapter.id } });
      await this.audit.record(tx, { actor: actor.id, action: 'adapter.purge', entityType: 'adapter', entityId: adapter.id, details: { name, versions: ids.length } });
    });
    this.cache.invalidate();
    return { purged: true, name };
  }

  /** The version row id for a reference, or NOT_FOUND naming adapter and reference. */
  async resolveVersionId(db: Db, adapterId: string, adapterName: string, ref: VersionRef): Promise<string> {
    let row: { id: string } | null;
    if (ref.kind === 'number') {
      row = await db.adapterVersion.findUnique({ where: { adapterId_version: { adapterId, version: ref.version } }, select: { id: true } });
    } else if (ref.kind === 'latest') {
      row = await db.adapterVersion.findFirst({ where: { adapterId }, orderBy: { version: 'desc' }, select: { id: true } });
    } else {
      const alias = await db.adapterAlias.findUnique({ where: { adapterId_name: { adapterId, name: ref.alias } }, select: { versionId: true } });
      row = alias ? { id: alias.versionId } : null;
    }
    if (!row) throw catalogErrors.notFound(`version ${describeRef(ref)} of adapter "${adapterName}"`, { adapter: adapterName, version: describeRef(ref) });
    return row.id;
  }

  /** Just the adapter's id (one small query), or NOT_FOUND. */
  async findId(db: Db, name: string, includeDeleted: boolean): Promise<string> {
    return (await this.loadRef(db, name, includeDeleted)).id;
  }

  private async loadRef(db: Db, name: string, includeDeleted: boolean): Promise<AdapterRef> {
    const row = await db.adapter.findUnique({ where: { name }, select: { id: true, deletedAt: true } });
    if (!row || (row.deletedAt && !includeDeleted)) throw catalogErrors.notFound(`adapter "${name}"`, { adapter: name });
    return row;
  }

  async loadRow(db: Db, name: string, includeDeleted: boolean): Promise<AdapterRow> {
    const row = await db.adapter.findUnique({ where: { name }, include: ADAPTER_INCLUDE });
    if (!row || (row.deletedAt && !includeDeleted)) throw catalogErrors.notFound(`adapter "${name}"`, { adapter: name });
    return row;
  }

  async attachTags(tx: Tx, adapterId: string, tags: readonly string[]): Promise<void> {
    for (const name of tags) {
      const tag = await tx.tag.upsert({ where: { name }, create: { name }, update: {}, select: { id: true } });
      await tx.adapterTag.upsert({
        where: { adapterId_tagId: { adapterId, tagId: tag.id } },
        create: { adapterId, tagId: tag.id },
        update: {},
      });
    }
  }

  /** Loads the adapter, applies `change` and records it, all in one transaction; returns the new state. */
  private async mutate(
    name: string,
    actor: AuthenticatedKey,
    action: string,
    change: (tx: Tx, adapter: AdapterRef) => Promise<Record<string, unknown>>,
    options: { includeDeleted?: boolean } = {},
  ): Promise<AdapterDto> {
    const id = await this.db.transaction(async (tx) => {
      const adapter = await this.loadRef(tx, name, options.includeDeleted ?? false);
      const details = await change(tx, adapter);
      await tx.adapter.update({ where: { id: adapter.id }, data: { updatedAt: new Date() } });
      await this.audit.record(tx, { actor: actor.id, action, entityType: 'adapter', entityId: adapter.id, details: { name, ...details } });
      return adapter.id;
    });
    this.cache.invalidate();
    const [summary] = await queryAdapterSummariesByIds(this.db.prisma, [id]);
    return summary;
  }
}

function sortValue(row: { name: string; createdAt: Date; updatedAt: Date }, sort: AdapterListQuery['sort']): string {
  return sort === 'name' ? row.name : row[sort].toISOString();
}

/** The versions a reference can name (`latest`: all of them, the newest first by the caller's order). */
function versionWhere(ref: VersionRef): Prisma.AdapterVersionWhereInput {
  if (ref.kind === 'number') return { version: ref.version };
  if (ref.kind === 'alias') return { aliases: { some: { name: ref.alias } } };
  return {};
}
