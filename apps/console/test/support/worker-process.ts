import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../../../..');
// The flags tools/run-ts.js uses, taken from the same place. The worker is spawned with them
// directly, not through run-ts.js: killing that wrapper would leave the real worker running.
const { nodeFlags } = createRequire(__filename)(path.join(ROOT, 'tools/node-flags.js')) as { nodeFlags(): string[] };

export interface WorkerProcess {
  readonly child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/**
 * A REAL trainer-worker process (apps/trainer-worker/src/main.ts) on the train queue (or `queues`), registering
 * results through the registry with a service key. Fast progress and cancel polling for tests.
 */
export async function spawnTrainWorker(options: { redisUrl: string; registryUrl: string; serviceKey: string; blobDir: string; dataDir: string; queues?: string }): Promise<WorkerProcess> {
  let output = '';
  const child = spawn(process.execPath, [...nodeFlags(), path.join(ROOT, 'apps/trainer-worker/src/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL: options.redisUrl,
      DATA_DIR: options.dataDir,
      BLOB_STORE: 'dir',
      BLOB_DIR: options.blobDir,
      REGISTRY_URL: options.registryUrl,
      SERVICE_KEY: options.serviceKey,
      WORKER_QUEUES: options.queues ?? 'train',
      WORKER_PROGRESS_INTERVAL_MS: '100',
      WORKER_CANCEL_POLL_MS: '100',
      WORKER_INTRA_OP_THREADS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (output.includes('trainer-worker ready')) resolve();
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => reject(new Error(`trainer-worker exited with ${code} before it was ready:\n${output}`)));
  });
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
