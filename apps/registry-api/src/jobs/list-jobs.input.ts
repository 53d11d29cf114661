import { Field, InputType, Int } from '@nestjs/graphql';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { JOB_KINDS } from '@palette/job-contracts';
import { domainErrors } from '../common';
import { JobStatus } from '../generated/prisma/enums';

export const JOB_STATUSES = Object.values(JobStatus);
type JobStatusValue = (typeof JOB_STATUSES)[number];

@InputType('JobFilter')
export class ListJobsInput {
  @ApiPropertyOptional({ description: `comma-separated: ${JOB_STATUSES.join(', ')}` }) @Field(() => String, { nullable: true }) status?: string;
  @ApiPropertyOptional({ enum: JOB_KINDS }) @Field(() => String, { nullable: true }) kind?: string;
  @ApiPropertyOptional({ description: 'base model name' }) @Field(() => String, { nullable: true }) baseModel?: string;
  @ApiPropertyOptional({ description: 'dataset id or sha256' }) @Field(() => String, { nullable: true }) dataset?: string;
  @ApiPropertyOptional({ description: 'adapter name the result is registered as' }) @Field(() => String, { nullable: true }) adapter?: string;
  @ApiPropertyOptional({ default: 50, maximum: 200 }) @Field(() => Int, { nullable: true }) limit?: number | string;
  @ApiPropertyOptional() @Field(() => String, { nullable: true }) cursor?: string;
}

export interface JobListQuery {
  readonly statuses: readonly JobStatusValue[];
  readonly kind?: string;
  readonly baseModel?: string;
  readonly dataset?: string;
  readonly adapter?: string;
  readonly limit: number;
  readonly cursor?: { readonly createdAt: Date; readonly id: string };
}

export function parseListJobsQuery(input: ListJobsInput): JobListQuery {
  const problems: string[] = [];
  const statuses = (input.status ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const s of statuses) if (!(JOB_STATUSES as string[]).includes(s)) problems.push(`status: ${JSON.stringify(s)} is not one of ${JOB_STATUSES.join(', ')}`);
  if (input.kind !== undefined && input.kind !== null && !(JOB_KINDS as readonly string[]).includes(input.kind)) problems.push(`kind: expected one of ${JOB_KINDS.join(', ')}`);
  const limit = input.limit === undefined || input.limit === null || input.limit === '' ? 50 : Number(input.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) problems.push(`limit: expected an integer in [1, 200], got ${JSON.stringify(input.limit)}`);
  let cursor: JobListQuery['cursor'];
  if (input.cursor) {
    cursor = decodeCursor(input.cursor);
    if (!cursor) problems.push('cursor: not a cursor this API returned');
  }
  if (problems.length > 0) throw domainErrors.validation(problems.join('; '), { problems });
  return {
    statuses: statuses as JobStatusValue[],
    ...(input.kind ? { kind: input.kind } : {}),
    ...(input.baseModel ? { baseModel: input.baseModel } : {}),
    ...(input.dataset ? { dataset: input.dataset } : {}),
    ...(input.adapter ? { adapter: input.adapter } : {}),
    limit,
    ...(cursor ? { cursor } : {}),
  };
}

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString('base64url');
}

function decodeCursor(raw: string): JobListQuery['cursor'] | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(value) && typeof value[0] === 'string' && typeof value[1] === 'string') {
      const createdAt = new Date(value[0]);
      if (!Number.isNaN(createdAt.getTime())) return { createdAt, id: value[1] };
    }
  } catch {
    // fall through
  }
  return undefined;
}
