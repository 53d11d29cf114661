import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running S3-protocol server for tests, and the settings a client needs to reach it. */
export interface TestS3Server {
  endPoint: string;
  port: number;
  useSSL: false;
  accessKey: string;
  secretKey: string;
  /** Created at start-up, empty. */
  bucket: string;
  /** Stops the server and deletes its data. Safe to call twice. */
  stop(): Promise<void>;
}

export interface TestS3ServerOptions {
  /** Bucket to create at start-up; `palette-test` when omitted. */
  bucket?: string;
  /** Give up if the server is not listening after this long; 15 s when omitted. */
  startTimeoutMs?: number;
}

/** s3rver accepts any well-formed signature made with these credentials. */
const S3RVER_CREDENTIALS = { accessKey: 'S3RVER', secretKey: 'S3RVER' };
const LISTENING = /^palette-s3rver listening on (\d+)$/m;

/**
 * The child's program: s3rver plus three fixes where it differs from S3 in ways the minio
 * client and the blob store notice.
 * - It lacks ListMultipartUploads (GET /<bucket>?uploads), which the minio client calls before
 *   every multipart putObject to look for an upload to resume: answer "none in progress".
 * - It reads a range's end as \`options.end || Infinity\`, so "bytes=0-0" returned the whole
 *   object: pass the end as a Number object, which is truthy yet still compares as 0.
 * - Copying an object onto itself (metadata REPLACE) leaves its LastModified unchanged, where
 *   S3 and MinIO give it a new one: touch the object file after such a copy.
 */
const CHILD_PROGRAM = `
const fs = require('node:fs/promises');
const S3rver = require(process.env.PALETTE_S3RVER_MODULE);
const { directory, bucket } = JSON.parse(process.env.PALETTE_S3RVER_CONFIG);
const app = new S3rver({ directory, address: '127.0.0.1', port: 0, silent: true, vhostBuckets: false, configureBuckets: [{ name: bucket, configs: [] }] });
app.middleware.unshift(async (ctx, next) => {
  if (ctx.method !== 'GET' || !('uploads' in ctx.query)) return next();
  const name = ctx.path.split('/').filter(Boolean)[0] || '';
  ctx.type = 'application/xml';
  ctx.body = '<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>' + name +
    '</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated></ListMultipartUploadsResult>';
});
const store = app.store;
const getObject = store.getObject.bind(store);
store.getObject = (b, k, options) => getObject(b, k, options && options.end === 0 ? { ...options, end: new Number(0) } : options);
const copyObject = store.copyObject.bind(store);
store.copyObject = async (srcBucket, srcKey, destBucket, destKey, metadata) => {
  const result = await copyObject(srcBucket, srcKey, destBucket, destKey, metadata);
  if (srcBucket === destBucket && srcKey === destKey) {
    const now = new Date();
    await fs.utimes(store.getResourcePath(destBucket, destKey, 'object'), now, now);
  }
  return result;
};
app.run().then((address) => console.log('palette-s3rver listening on ' + address.port), (error) => { console.error(error); process.exit(1); });
process.on('SIGTERM', () => app.close().finally(() => process.exit(0)));
`;

/** Children still running, killed if the test process exits without calling stop(). */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/**
 * Starts a real S3-protocol server (s3rver, which the minio client speaks to, multipart uploads
 * and CopyObject included) on 127.0.0.1 and a free port chosen by the OS, storing into a fresh
 * temp directory.
 *
 * It runs as a child process rather than in-process: its Koa/winston stack stays out of the
 * test's process (no global handlers, no memory or CPU counted against the code under test),
 * it uses the second core, and killing it cannot leave sockets open in the test. Start-up
 * takes a few hundred milliseconds; share one server per test file and use a fresh prefix
 * or bucket per test.
 */
export async function startTestS3Server(options: TestS3ServerOptions = {}): Promise<TestS3Server> {
  const bucket = options.bucket ?? 'palette-test';
  const directory = await mkdtemp(join(tmpdir(), 'palette-s3rver-'));
  const child = spawn(process.execPath, ['-e', CHILD_PROGRAM], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // The test's own flags (TypeScript loader, conditions) are not needed by plain s3rver.
      NODE_OPTIONS: '',
      PALETTE_S3RVER_MODULE: require.resolve('s3rver'),
      PALETTE_S3RVER_CONFIG: JSON.stringify({ directory, bucket }),
    },
  });
  running.add(child);
  installExitHook();

  let port: number;
  try {
    port = await waitForPort(child, options.startTimeoutMs ?? 15_000);
  } catch (error) {
    child.kill('SIGKILL');
    running.delete(child);
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  // A test that forgets stop() must not hang the runner; the exit hook still kills the child.
  child.unref();
  child.stdout?.destroy();
  child.stderr?.removeAllListeners('data');
  (child.stderr as { unref?: () => void } | null)?.unref?.();

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      await rm(directory, { recursive: true, force: true });
    })();
    return stopped;
  };

  return { endPoint: '127.0.0.1', port, useSSL: false, ...S3RVER_CREDENTIALS, bucket, stop };
}

function waitForPort(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => finish(new Error(`s3rver did not start within ${timeoutMs} ms; stderr: ${stderr.trim()}`)), timeoutMs);
    const finish = (result: number | Error): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onStdout);
      child.off('exit', onExit);
      child.off('error', onError);
      if (typeof result === 'number') resolve(result);
      else reject(result);
    };
    const onStdout = (chunk: Buffer): void => {
      stdout += chunk.toString('utf8');
      const match = LISTENING.exec(stdout);
      if (match) finish(Number(match[1]));
    };
    const onExit = (code: number | null, signal: string | null): void =>
      finish(new Error(`s3rver exited during start-up (code ${code}, signal ${signal}); stderr: ${stderr.trim()}`));
    const onError = (error: Error): void => finish(error);
    child.stdout?.on('data', onStdout);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.once('exit', onExit);
    child.once('error', onError);
  });
}
