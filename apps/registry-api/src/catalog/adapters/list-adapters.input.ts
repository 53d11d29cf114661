import { Field, InputType, Int } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { catalogErrors } from '../catalog-errors';
import { optionalDate, optionalEnum, optionalInt, optionalName } from '../catalog-input';

export const ADAPTER_SORT_FIELDS = ['name', 'createdAt', 'updatedAt'] as const;
export type AdapterSortField = (typeof ADAPTER_SORT_FIELDS)[number];
export const SORT_ORDERS = ['asc', 'desc'] as const;
export type SortOrder = (typeof SORT_ORDERS)[number];

/** Filters, sort and page of GET /api/v1/adapters (query string) and the `adapters` GraphQL query. */
@InputType('AdapterListInput')
export class ListAdaptersInput {
  @ApiPropertyOptional({ description: 'Base model name' }) @Field({ nullable: true }) baseModel?: string;
  @ApiPropertyOptional() @Field({ nullable: true }) tag?: string;
  @ApiPropertyOptional({ description: 'Adapter names starting with this' }) @Field({ nullable: true }) namePrefix?: string;
  @ApiPropertyOptional({ description: 'ISO-8601; created at or after' }) @Field({ nullable: true }) createdAfter?: string;
  @ApiPropertyOptional({ description: 'ISO-8601; created before' }) @Field({ nullable: true }) createdBefore?: string;
  @ApiPropertyOptional({ enum: ADAPTER_SORT_FIELDS, default: 'name' }) @Field({ nullable: true }) sort?: string;
  @ApiPropertyOptional({ enum: SORT_ORDERS, default: 'asc' }) @Field({ nullable: true }) order?: string;
  @ApiPropertyOptional({ default: 50, maximum: 200 }) @Field(() => Int, { nullable: true }) limit?: number;
  @ApiPropertyOptional({ description: 'nextCursor of the previous page' }) @Field({ nullable: true }) cursor?: string;
  @ApiPropertyOptional({ description: 'Include soft-deleted adapters' }) @Field({ nullable: true }) includeDeleted?: boolean;
}

/** The validated form of ListAdaptersInput. */
export interface AdapterListQuery {
  readonly baseModel?: string;
  readonly tag?: string;
  readonly namePrefix?: string;
  readonly createdAfter?: Date;
  readonly createdBefore?: Date;
  readonly sort: AdapterSortField;
  readonly order: SortOrder;
  readonly limit: number;
  readonly cursor?: ListCursor;
  readonly includeDeleted: boolean;
}

/** Keyset position: the last row's sort value and id (ids break ties so pages never overlap). */
export interface ListCursor {
  readonly sort: AdapterSortField;
  readonly order: SortOrder;
  readonly value: string;
  readonly id: string;
}

export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(JSON.stringify([cursor.sort, cursor.order, cursor.value, cursor.id])).toString('base64url');
}

export function decodeCursor(text: string, sort: AdapterSortField, order: SortOrder): ListCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    parsed = null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 4 || !parsed.every((p) => typeof p === 'string')) {
    throw catalogErrors.invalid(`'cursor' is not a cursor this API returned`, { field: 'cursor' });
  }
  const [cSort, cOrder, value, id] = parsed as string[];
  if (cSort !== sort || cOrder !== order) {
    throw catalogErrors.invalid(`'cursor' belongs to a listing sorted by ${cSort} ${cOrder}, not ${sort} ${order}`, { field: 'cursor' });
  }
  return { sort, order, value, id };
}

function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined || value === null || value === '' || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw catalogErrors.invalid(`'${field}' must be true or false`, { field });
}

export function parseListQuery(input: ListAdaptersInput | Record<string, unknown>): AdapterListQuery {
  const raw = input as Record<string, unknown>;
  const sort = optionalEnum(raw.sort, 'sort', ADAPTER_SORT_FIELDS) ?? 'name';
  const order = optionalEnum(raw.order, 'order', SORT_ORDERS) ?? 'asc';
  const namePrefix = raw.namePrefix;
  if (namePrefix !== undefined && namePrefix !== null && (typeof namePrefix !== 'string' || !/^[A-Za-z0-9._-]{0,128}$/.test(namePrefix))) {
    throw catalogErrors.invalid(`'namePrefix' may only contain letters, digits, '.', '_' and '-'`, { field: 'namePrefix' });
  }
  const tag = raw.tag;
  if (tag !== undefined && tag !== null && typeof tag !== 'string') throw catalogErrors.invalid(`'tag' must be a string`, { field: 'tag' });
  const createdAfter = optionalDate(raw.createdAfter, 'createdAfter');
  const createdBefore = optionalDate(raw.createdBefore, 'createdBefore');
  if (createdAfter && createdBefore && createdAfter >= createdBefore) {
    throw catalogErrors.invalid(`'createdAfter' must be before 'createdBefore'`, { field: 'createdAfter' });
  }
  return {
    baseModel: optionalName(raw.baseModel, 'baseModel'),
    tag: typeof tag === 'string' && tag !== '' ? tag.toLowerCase() : undefined,
    namePrefix: typeof namePrefix === 'string' && namePrefix !== '' ? namePrefix : undefined,
    createdAfter,
    createdBefore,
    sort,
    order,
    limit: optionalInt(raw.limit, 'limit', 1, 200) ?? 50,
    cursor: typeof raw.cursor === 'string' && raw.cursor !== '' ? decodeCursor(raw.cursor, sort, order) : undefined,
    includeDeleted: optionalBoolean(raw.includeDeleted, 'includeDeleted'),
  };
}
