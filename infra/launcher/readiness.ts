import { request } from 'node:http';
import { createConnection, createServer } from 'node:net';

/** How a service proves it is up. */
export type ReadinessCheck =
  | { kind: 'http'; url: string }
  | { kind: 'redis'; host: string; port: number }
  | { kind: 'none' };

/** One attempt: resolves true when the service answers as ready. Never throws. */
export function probe(check: ReadinessCheck, timeoutMs = 2_000): Promise<boolean> {
  switch (check.kind) {
    case 'none':
      return Promise.resolve(true);
    case 'http':
      return probeHttp(check.url, timeoutMs);
    case 'redis':
      return probeRedis(check.host, check.port, timeoutMs);
  }
}

function probeHttp(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Sends an inline PING; a Redis that is still loading its data answers -LOADING instead of +PONG. */
function probeRedis(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let reply = '';
    const done = (ready: boolean): void => {
      socket.destroy();
      resolve(ready);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

/** True when nothing listens on host:port (so a service can bind it). */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
