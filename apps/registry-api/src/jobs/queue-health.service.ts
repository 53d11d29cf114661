import { Injectable } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { JOB_KINDS, QUEUE_NAMES, type JobKind } from '@palette/job-contracts';
import { JobQueues } from './job-queues';
import { QUEUE_COUNT_STATES, type QueueCountState, type QueueHealthDto, type QueuesHealthDto, type QueueWorkerDto } from './queue-health.dto';

/**
 * How long the health read waits for Redis. The queues' connections retry forever
 * (maxRetriesPerRequest: null, as BullMQ requires), so a dead Redis would otherwise hang the request.
 */
export const QUEUE_HEALTH_TIMEOUT_MS = 2_000;

/** Job counts and connected workers of every BullMQ queue, for the console's System health page. */
@Injectable()
export class QueueHealthService {
  constructor(private readonly queues: JobQueues) {}

  async read(timeoutMs = QUEUE_HEALTH_TIMEOUT_MS): Promise<QueuesHealthDto> {
    if (!this.queues.enabled) return { redis: 'unconfigured', queues: [] };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const queues = await Promise.race([Promise.all(JOB_KINDS.map((kind) => this.readQueue(kind))), deadline]);
      return { redis: 'ok', queues };
    } catch (error) {
      return { redis: 'unavailable', error: error instanceof Error ? error.message : String(error), queues: [] };
    } finally {
      clearTimeout(timer);
    }
  }

  private async readQueue(kind: JobKind): Promise<QueueHealthDto> {
    const queue = this.queues.queue(kind);
    const [counts, workers] = await Promise.all([readCounts(queue), queue.getWorkers()]);
    return { kind, queue: QUEUE_NAMES[kind], counts, workers: workers.map(toWorker) };
  }
}

async function readCounts(queue: Queue): Promise<Record<QueueCountState, number>> {
  const raw = await queue.getJobCounts(...QUEUE_COUNT_STATES);
  const counts = {} as Record<QueueCountState, number>;
  for (const state of QUEUE_COUNT_STATES) counts[state] = raw[state] ?? 0;
  return counts;
}

/**
 * One line of Redis CLIENT LIST as BullMQ parses it. BullMQ replaces `name` by the queue name and
 * keeps the connection name (`bull:<queue>:w:<worker name>` for a named worker) in `rawname`.
 */
function toWorker(client: Readonly<Record<string, string>>): QueueWorkerDto {
  const rawName = client['rawname'] ?? '';
  const marker = rawName.indexOf(':w:');
  return {
    name: marker >= 0 ? rawName.slice(marker + 3) : (client['name'] ?? rawName),
    addr: client['addr'] ?? '',
    ageSeconds: Number(client['age'] ?? 0),
    idleSeconds: Number(client['idle'] ?? 0),
  };
}
