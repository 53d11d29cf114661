import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { launchContext, LaunchConfigError } from './launch-context';
import { isPortFree, probe } from './readiness';
import { platformServices } from './services';
import { ServiceFailedError, Supervisor, type ServiceSpec } from './supervisor';

/** A stand-in service: an HTTP server whose /readyz answers 200 after `delayMs`, and which spawns a grandchild. */
const FAKE_SERVICE = `
const http = require('node:http');
const { spawn } = require('node:child_process');
// A grandchild, like the app behind npm: stopping the service must stop it too.
const grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
console.log('grandchild ' + grandchild.pid);
const readyAt = Date.now() + Number(process.env.DELAY_MS);
const server = http.createServer((req, res) => { res.statusCode = Date.now() >= readyAt ? 200 : 503; res.end(); });
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
process.on('SIGTERM', () => { console.log('stopping'); server.close(() => process.exit(0)); });
`;

function nodeSpec(name: string, program: string, overrides: Partial<ServiceSpec> = {}): ServiceSpec {
  return {
    name,
    kind: 'service',
    command: process.execPath,
    args: ['-e', program],
    cwd: process.cwd(),
    env: { PATH: process.env.PATH, DELAY_MS: '300' },
    readiness: { kind: 'none' },
    startTimeoutMs: 10_000,
    ...overrides,
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Supervisor', () => {
  it('waits for readiness, then stops the service and everything it spawned', async () => {
    const lines: string[] = [];
    const supervisor = new Supervisor((line) => lines.push(line));
    // Readiness is probed on the port the service reports, so read it from the log first.
    const spec = nodeSpec('fake', FAKE_SERVICE);
    await supervisor.start(spec);
    let port: number | undefined;
    for (let i = 0; i < 100 && port === undefined; i++) {
      const match = lines.map((l) => /^\[fake\] port (\d+)$/.exec(l)).find(Boolean);
      if (match) port = Number(match[1]);
      else await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(port, 'the fake service reported its port');
    const url = `http://127.0.0.1:${port}/readyz`;
    const started = Date.now();
    while (!(await probe({ kind: 'http', url }))) {
      assert.ok(Date.now() - started < 5_000, 'fake service became ready');
      await new Promise((r) => setTimeout(r, 50));
    }
    const grandchild = Number(lines.map((l) => /^\[fake\] grandchild (\d+)$/.exec(l)).find(Boolean)![1]);
    assert.ok(alive(grandchild));

    await supervisor.stopAll(5_000);
    assert.ok(lines.includes('[fake] stopping'), 'the service got SIGTERM and shut down itself');
    assert.equal(alive(grandchild), false);
    assert.equal(await probe({ kind: 'http', url }), false);
  });

  it('reports a service that exits during start-up, with its last output', async () => {
    const supervisor = new Supervisor(() => undefined);
    const spec = nodeSpec('broken', "console.error('cannot open database'); process.exit(3)", {
      readiness: { kind: 'http', url: 'http://127.0.0.1:1/readyz' },
    });
    await assert.rejects(supervisor.start(spec), (error: unknown) => {
      assert.ok(error instanceof ServiceFailedError);
      assert.match(error.message, /broken exited during start-up \(code 3\)/);
      assert.deepEqual(error.tail, ['cannot open database']);
      return true;
    });
  });

  it('gives up on a service that never becomes ready, and fails a task that exits non-zero', async () => {
    const supervisor = new Supervisor(() => undefined);
    const hanging = nodeSpec('hanging', 'setInterval(() => {}, 1000)', {
      readiness: { kind: 'http', url: 'http://127.0.0.1:1/readyz' },
      startTimeoutMs: 300,
    });
    await assert.rejects(supervisor.start(hanging), /hanging was not ready within 0.3 s/);
    await supervisor.stopAll(2_000);
    await assert.rejects(supervisor.start(nodeSpec('seed', 'process.exit(2)', { kind: 'task' })), /seed exited with code 2/);
    await supervisor.start(nodeSpec('seed', 'process.exit(0)', { kind: 'task' }));
  });

  it('notices a service that dies after it was ready', async () => {
    const supervisor = new Supervisor(() => undefined);
    const died = new Promise<string>((resolve) => (supervisor.onUnexpectedExit = (name, code) => resolve(`${name}:${code}`)));
    await supervisor.start(nodeSpec('flaky', 'setTimeout(() => process.exit(4), 200)'));
    assert.equal(await died, 'flaky:4');
  });
});

describe('launcher settings', () => {
  it('defaults to a private Redis on 6390 and the API on 8080 under .data', () => {
    const ctx = launchContext({}, '/repo');
    assert.deepEqual(ctx.redis, { managed: true, port: 6390, url: 'redis://127.0.0.1:6390' });
    assert.equal(ctx.apiPort, 8080);
    assert.equal(ctx.dataDir, '/repo/.data');
    const names = platformServices(ctx).map((s) => s.name);
    assert.deepEqual(names, ['redis', 'registry-api', 'router', 'trainer-worker']);
    const api = platformServices(ctx)[1]!;
    assert.equal(api.env.REDIS_URL, 'redis://127.0.0.1:6390');
    assert.equal(api.env.BOOTSTRAP_KEY_FILE, '/repo/.data/bootstrap-admin-key');
    assert.equal(api.env.BLOB_DIR, '/repo/.data/blobs');
  });

  it('uses a given REDIS_URL instead of starting Redis, and reports every bad setting at once', () => {
    const ctx = launchContext({ REDIS_URL: 'redis://cache:6379', PORT: '9000' }, '/repo');
    assert.deepEqual(platformServices(ctx).map((s) => s.name), ['registry-api', 'router', 'trainer-worker']);
    assert.throws(() => launchContext({ PORT: 'eighty', REDIS_PORT: '70000' }, '/repo'), (error: unknown) => {
      assert.ok(error instanceof LaunchConfigError);
      assert.match(error.message, /PORT must be a port number.*\n.*REDIS_PORT must be a port number/);
      return true;
    });
  });

  it('detects a port in use', async () => {
    const { createServer } = await import('node:net');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    assert.equal(await isPortFree('127.0.0.1', port), false);
    await new Promise((resolve) => server.close(resolve));
    assert.equal(await isPortFree('127.0.0.1', port), true);
  });
});
