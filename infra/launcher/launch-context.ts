import { resolve } from 'node:path';
import type { LaunchContext } from './services';

export class LaunchConfigError extends Error {
  constructor(problems: string[]) {
    super(`invalid launcher settings:\n  - ${problems.join('\n  - ')}`);
    this.name = 'LaunchConfigError';
  }
}

/**
 * Reads the launcher's settings: HOST (127.0.0.1), PORT (8080, the API), DATA_DIR (.data),
 * REDIS_URL (an existing Redis; otherwise one is started on REDIS_PORT, 6390). Every problem is
 * reported at once.
 */
export function launchContext(env: NodeJS.ProcessEnv, root: string): LaunchContext {
  const problems: string[] = [];
  const port = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < 1 || value > 65535) problems.push(`${name} must be a port number (1-65535), got ${JSON.stringify(raw)}`);
    return value;
  };
  const host = env.HOST || '127.0.0.1';
  const apiPort = port('PORT', 8080);
  const routerPort = port('ROUTER_PORT', 8090);
  const dataDir = resolve(root, env.DATA_DIR || '.data');
  let redis: LaunchContext['redis'];
  if (env.REDIS_URL) {
    if (!/^rediss?:\/\//.test(env.REDIS_URL)) problems.push(`REDIS_URL must start with redis:// or rediss://, got ${JSON.stringify(env.REDIS_URL)}`);
    redis = { managed: false, url: env.REDIS_URL };
  } else {
    const redisPort = port('REDIS_PORT', 6390);
    redis = { managed: true, port: redisPort, url: `redis://127.0.0.1:${redisPort}` };
  }
  if (problems.length > 0) throw new LaunchConfigError(problems);
  return { root, dataDir, host, apiPort, routerPort, redis, env };
}
