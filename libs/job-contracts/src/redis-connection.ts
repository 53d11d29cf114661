/**
 * Connection settings for BullMQ (ioredis) from a redis:// or rediss:// URL, shared by the
 * producer (registry-api) and the consumer (trainer-worker). A plain object so this package stays
 * free of BullMQ; it is structurally BullMQ's ConnectionOptions. maxRetriesPerRequest must be null
 * for the blocking connections that workers and QueueEvents use (BullMQ's requirement).
 */
export interface RedisConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls?: Record<string, never>;
  maxRetriesPerRequest: null;
}

export function redisConnectionOptions(redisUrl: string): RedisConnectionOptions {
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
