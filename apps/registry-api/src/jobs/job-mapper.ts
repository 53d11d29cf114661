import type { Prisma } from '../generated/prisma/client';
import type { JobDetailDto, JobDto, JobMetricPointDto } from './job.dto';

/** What a Job row is loaded with for DTOs. */
export const JOB_INCLUDE = {
  baseModel: { select: { name: true } },
  dataset: { select: { sha256: true } },
  adapterVersion: { select: { version: true, adapter: { select: { name: true } } } },
} as const satisfies Prisma.JobInclude;

export type JobRow = Prisma.JobGetPayload<{ include: typeof JOB_INCLUDE }>;

export function toJobDto(row: JobRow): JobDto {
  const registration = row.registration as { adapter?: unknown } | null;
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    baseModel: row.baseModel?.name ?? null,
    datasetId: row.datasetId,
    datasetSha256: row.dataset?.sha256 ?? null,
    adapter: typeof registration?.adapter === 'string' ? registration.adapter : null,
    adapterVersion: row.adapterVersion ? `${row.adapterVersion.adapter.name}@v${row.adapterVersion.version}` : null,
    registration: row.registration,
    registered: row.registered,
    registeredAt: row.registeredAt,
    payload: row.payload,
    progress: row.progress,
    result: row.result,
    error: row.error,
    attempts: row.attempts,
    cancelRequestedAt: row.cancelRequestedAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

export function toJobDetailDto(row: JobRow): JobDetailDto {
  return { ...toJobDto(row), metricHistory: Array.isArray(row.metricHistory) ? (row.metricHistory as unknown as JobMetricPointDto[]) : [] };
}
