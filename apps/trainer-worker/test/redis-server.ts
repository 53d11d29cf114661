/** Moved to tools/testing (shared with registry-api's job tests). */
export { startRedisServer, type RedisServer } from '../../../tools/testing/redis-server';
