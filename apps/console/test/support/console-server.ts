import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { createTestApp, type TestApp } from '@palette/registry-api/testing/index';
import { ensureConsoleBuilt } from './console-build';

export interface ConsoleServer {
  readonly registry: TestApp;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The REAL registry-api (createTestApp: every module, PGlite, blob store) listening on a local
 * port and serving the freshly built console at /console. `routerUrl` is what the registry's
 * router gateway forwards to.
 */
export async function startConsoleServer(options: { env?: Record<string, string>; routerUrl?: string } = {}): Promise<ConsoleServer> {
  const dist = ensureConsoleBuilt();
  // The console module reads these when the app is created (see registry-api src/console/console-options.ts).
  process.env.CONSOLE_DIST_DIR = dist;
  if (options.routerUrl === undefined) delete process.env.ROUTER_URL;
  else process.env.ROUTER_URL = options.routerUrl;
  const registry = await createTestApp({ env: options.env ?? {} });
  await registry.app.listen(0, '127.0.0.1');
  const { port } = registry.app.getHttpServer().address() as AddressInfo;
  return { registry, url: `http://127.0.0.1:${port}`, close: () => registry.close() };
}

/** A port that was free a moment ago (for a service that must be named before it starts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
