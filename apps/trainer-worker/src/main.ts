/**
 * Entry point: `npm start -w apps/trainer-worker` (or node tools/run-ts.js apps/trainer-worker/src/main.ts).
 * Parses the configuration once, starts the workers, and shuts down gracefully on SIGTERM/SIGINT
 * (a second signal exits at once).
 */
import { parseWorkerConfig } from './config';
import { startTrainerWorker } from './worker-app';

async function main(): Promise<void> {
  const config = parseWorkerConfig(process.env);
  const app = await startTrainerWorker(config);
  await app.waitUntilReady();
  process.stdout.write(
    `trainer-worker ready: queues ${config.queues.map((k) => `${k}×${config.concurrency[k]}`).join(', ')}, at most ${config.maxConcurrentJobs} job(s) at once, redis ${new URL(config.redisUrl).host}\n`,
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stdout.write(`trainer-worker: ${signal} again, exiting now\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`trainer-worker: ${signal}: checkpointing running jobs and closing\n`);
    app.shutdown().then(
      () => {
        process.stdout.write('trainer-worker: stopped\n');
        process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`trainer-worker: shutdown failed: ${(e as Error).stack ?? String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`trainer-worker: ${(e as Error).message}\n`);
  process.exit(1);
});
