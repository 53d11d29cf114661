import { Worker } from 'node:worker_threads';

/** What one timed run against one route measured. */
export interface RouteResult {
  readonly route: string;
  readonly requests: number;
  readonly errors: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface LoadOptions {
  readonly baseUrl: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Paths to request, cycled through (e.g. different adapter names). */
  readonly paths: readonly string[];
  readonly connections: number;
  readonly seconds: number;
}

/**
 * The load generator runs in a worker thread so its own CPU use does not sit on the server's
 * event loop: `connections` keep-alive sockets each issue one request at a time, back to back,
 * for a fixed duration (a closed loop, so concurrency is bounded). Written as plain JS because
 * worker threads do not inherit the TypeScript loader.
 */
const WORKER_SOURCE = `
const http = require('node:http');
const { parentPort, workerData } = require('node:worker_threads');
const { baseUrl, headers, paths, connections, seconds } = workerData;
const url = new URL(baseUrl);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const latencies = [];
let errors = 0;
let next = 0;
const deadline = Date.now() + seconds * 1000;
function once(path) {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const req = http.request({ host: url.hostname, port: url.port, path, method: 'GET', headers, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode !== 200) errors += 1;
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
        resolve();
      });
    });
    req.on('error', () => { errors += 1; resolve(); });
    req.end();
  });
}
async function loop() {
  while (Date.now() < deadline) await once(paths[next++ % paths.length]);
}
const started = Date.now();
Promise.all(Array.from({ length: connections }, loop)).then(() => {
  agent.destroy();
  parentPort.postMessage({ latencies, errors, seconds: (Date.now() - started) / 1000 });
});
`;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function runLoad(route: string, options: LoadOptions): Promise<RouteResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...options } });
    worker.once('error', reject);
    worker.once('message', (msg: { latencies: number[]; errors: number; seconds: number }) => {
      const sorted = Float64Array.from(msg.latencies).sort();
      resolve({
        route,
        requests: sorted.length,
        errors: msg.errors,
        seconds: msg.seconds,
        requestsPerSecond: sorted.length / msg.seconds,
        p50Ms: percentile(Array.from(sorted), 50),
        p99Ms: percentile(Array.from(sorted), 99),
      });
      void worker.terminate();
    });
  });
}
