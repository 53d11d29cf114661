import type { ConnectionOptions } from 'bullmq';

/**
 * BullMQ connection options from a redis:// or rediss:// URL. maxRetriesPerRequest must be null
 * for the blocking connections QueueEvents uses (BullMQ's requirement).
 */
export function redisConnectionOptions(redisUrl: string): ConnectionOptions {
  const u = new URL(redisUrl);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  return {
    host: u.hostname,
    port: u.port === '' ? 6379 : Number(u.port),
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    db: Number.isInteger(db) ? db : 0,
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}
