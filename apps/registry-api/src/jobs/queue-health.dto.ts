import { ApiProperty } from '@nestjs/swagger';

/** The BullMQ job states counted per queue, in the order the console shows them. */
export const QUEUE_COUNT_STATES = ['waiting', 'prioritized', 'delayed', 'active', 'waiting-children', 'paused', 'completed', 'failed'] as const;
export type QueueCountState = (typeof QUEUE_COUNT_STATES)[number];

export class QueueWorkerDto {
  @ApiProperty({ description: "the worker's own name when it set one, else the queue name (BullMQ's client name)" }) name!: string;
  @ApiProperty({ description: "the worker connection's address as Redis reports it (host:port)" }) addr!: string;
  @ApiProperty({ description: 'seconds since the worker connected' }) ageSeconds!: number;
  @ApiProperty({ description: 'seconds since the worker connection last ran a command' }) idleSeconds!: number;
}

export class QueueHealthDto {
  @ApiProperty({ example: 'train' }) kind!: string;
  @ApiProperty({ example: 'palette-train' }) queue!: string;
  @ApiProperty({ type: Object, description: `jobs per state: ${QUEUE_COUNT_STATES.join(', ')}` }) counts!: Record<QueueCountState, number>;
  @ApiProperty({ type: [QueueWorkerDto] }) workers!: QueueWorkerDto[];
}

export class QueuesHealthDto {
  @ApiProperty({ enum: ['ok', 'unavailable', 'unconfigured'], description: 'unconfigured: no REDIS_URL; unavailable: Redis did not answer in time' })
  redis!: 'ok' | 'unavailable' | 'unconfigured';
  @ApiProperty({ description: 'why Redis is unavailable', required: false }) error?: string;
  @ApiProperty({ type: [QueueHealthDto], description: 'one per job kind; empty unless redis is ok' }) queues!: QueueHealthDto[];
}
