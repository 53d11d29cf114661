import { join } from 'node:path';
import { ensureServiceKey } from './service-key';
import type { ServiceSpec } from './supervisor';

/** Where everything runs on this machine; parsed once from the environment by launchContext. */
export interface LaunchContext {
  root: string;
  dataDir: string;
  host: string;
  apiPort: number;
  routerPort: number;
  /** A Redis the launcher starts (port), or one the user gave with REDIS_URL. */
  redis: { managed: true; port: number; url: string } | { managed: false; url: string };
  env: NodeJS.ProcessEnv;
}

/** A URL the launcher prints once everything is up. */
export interface ServiceUrl {
  label: string;
  url: string;
}

const MINUTE = 60_000;

/** Runs an npm script of a workspace as a service (or task); its env gets the shared platform settings. */
function workspaceScript(
  ctx: LaunchContext,
  name: string,
  workspace: string,
  script: string,
  options: Partial<Pick<ServiceSpec, 'kind' | 'env' | 'readiness' | 'startTimeoutMs' | 'ports' | 'prepare'>> = {},
): ServiceSpec {
  return {
    name,
    kind: options.kind ?? 'service',
    command: 'npm',
    args: ['run', script, '--silent', '-w', workspace],
    cwd: ctx.root,
    env: { ...platformEnv(ctx), ...options.env },
    readiness: options.readiness ?? { kind: 'none' },
    startTimeoutMs: options.startTimeoutMs ?? 2 * MINUTE,
    ports: options.ports,
    ...(options.prepare !== undefined ? { prepare: options.prepare } : {}),
  };
}

/** Settings every Palette process shares: where data lives and how to reach Redis and the API. */
function platformEnv(ctx: LaunchContext): NodeJS.ProcessEnv {
  return {
    ...ctx.env,
    DATA_DIR: ctx.dataDir,
    BLOB_STORE: ctx.env.BLOB_STORE ?? 'dir',
    BLOB_DIR: ctx.env.BLOB_DIR ?? join(ctx.dataDir, 'blobs'),
    REDIS_URL: ctx.redis.url,
    REGISTRY_URL: `http://${ctx.host}:${ctx.apiPort}`,
  };
}

export function bootstrapKeyFile(ctx: LaunchContext): string {
  return ctx.env.BOOTSTRAP_KEY_FILE ?? join(ctx.dataDir, 'bootstrap-admin-key');
}

/** The `service` key of the worker, the router and the world seeder (SERVICE_KEY_FILE moves it). */
export function serviceKeyFile(ctx: LaunchContext): string {
  return ctx.env.SERVICE_KEY_FILE ?? join(ctx.dataDir, 'service-key');
}

/**
 * Mints (first start) or checks (later starts) the service key once registry-api is up; every
 * spec that reads the key file shares the one attempt.
 */
function serviceKeyStep(ctx: LaunchContext): () => Promise<void> {
  let pending: Promise<string> | undefined;
  return async () => {
    pending ??= ensureServiceKey({
      registryUrl: `http://${ctx.host}:${ctx.apiPort}`,
      adminKeyFile: bootstrapKeyFile(ctx),
      serviceKeyFile: serviceKeyFile(ctx),
      log: (line) => process.stdout.write(`${line}\n`),
    });
    await pending;
  };
}

/**
 * The platform on one machine, in start order. Each entry starts after the previous one is
 * ready; Ctrl-C stops them in reverse. A new app or the demo-data seeding is one more line, e.g.
 *   workspaceScript(ctx, 'trainer-worker', 'apps/trainer-worker', 'start'),
 *   workspaceScript(ctx, 'router', 'apps/router', 'start', { env: { PORT: '8090' }, readiness: { kind: 'http', url: 'http://127.0.0.1:8090/readyz' } }),
 *   workspaceScript(ctx, 'seed demo data', 'apps/trainer-worker', 'seed', { kind: 'task', startTimeoutMs: 30 * MINUTE }),
 */
export function platformServices(ctx: LaunchContext): ServiceSpec[] {
  const services: ServiceSpec[] = [];
  const serviceKey = serviceKeyStep(ctx);
  if (ctx.redis.managed) services.push(redisService(ctx, ctx.redis.port));
  services.push(
    workspaceScript(ctx, 'registry-api', 'apps/registry-api', 'start', {
      env: { HOST: ctx.host, PORT: String(ctx.apiPort), BOOTSTRAP_KEY_FILE: bootstrapKeyFile(ctx), ROUTER_URL: `http://${ctx.host}:${ctx.routerPort}` },
      readiness: { kind: 'http', url: `http://${ctx.host}:${ctx.apiPort}/readyz` },
      ports: [{ host: ctx.host, port: ctx.apiPort, variable: 'PORT' }],
    }),
    workspaceScript(ctx, 'router', 'apps/router', 'start', {
      env: { HOST: ctx.host, PORT: String(ctx.routerPort), REGISTRY_API_KEY_FILE: serviceKeyFile(ctx) },
      readiness: { kind: 'http', url: `http://${ctx.host}:${ctx.routerPort}/readyz` },
      ports: [{ host: ctx.host, port: ctx.routerPort, variable: 'ROUTER_PORT' }],
      prepare: serviceKey,
    }),
    workspaceScript(ctx, 'trainer-worker', 'apps/trainer-worker', 'start', { env: { SERVICE_KEY_FILE: serviceKeyFile(ctx) }, prepare: serviceKey }),
  );
  return services;
}

/** What to print when the platform is up; add a line when a service gains a URL. */
export function platformUrls(ctx: LaunchContext): ServiceUrl[] {
  const api = `http://${ctx.host}:${ctx.apiPort}`;
  return [
    { label: 'API', url: api },
    { label: 'API docs (OpenAPI)', url: `${api}/api/docs` },
    { label: 'GraphQL', url: `${api}/graphql` },
    { label: 'Console', url: `${api}/console` },
    { label: 'Router (OpenAI API)', url: `http://${ctx.host}:${ctx.routerPort}/v1` },
  ];
}

/** A private Redis for BullMQ: loopback only, data under DATA_DIR/redis, append-only so queued jobs survive restarts. */
function redisService(ctx: LaunchContext, port: number): ServiceSpec {
  return {
    name: 'redis',
    kind: 'service',
    command: ctx.env.REDIS_SERVER_BIN ?? 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--dir', join(ctx.dataDir, 'redis'), '--appendonly', 'yes', '--daemonize', 'no', '--loglevel', 'warning'],
    cwd: ctx.root,
    env: ctx.env,
    readiness: { kind: 'redis', host: '127.0.0.1', port },
    startTimeoutMs: MINUTE,
    ports: [{ host: '127.0.0.1', port, variable: 'REDIS_PORT' }],
  };
}
