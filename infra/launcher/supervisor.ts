import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { probe, sleep, type ReadinessCheck } from './readiness';

/** One process the launcher runs: a long-lived service, or a task that must finish successfully. */
export interface ServiceSpec {
  name: string;
  /**
   * 'service' runs until stopped; 'task' must exit 0 before the next entry starts; 'background'
   * (the world seeder) runs alongside the services and may end on its own at any time, which is
   * reported through onBackgroundExit instead of stopping the platform.
   */
  kind: 'service' | 'task' | 'background';
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  readiness: ReadinessCheck;
  /** How long start-up may take before the launcher gives up. */
  startTimeoutMs: number;
  /** Ports it binds, checked free before it starts; `variable` is the setting that moves it. */
  ports?: { host: string; port: number; variable: string }[];
  /** Runs before the process is spawned (e.g. minting the API key it reads); a throw fails the start. */
  prepare?: () => Promise<void>;
}

export type LogSink = (line: string) => void;

interface Running {
  spec: ServiceSpec;
  child: ChildProcess;
  exited: Promise<number | null>;
  /** The last lines it printed, shown when it fails. */
  tail: string[];
}

const TAIL_LINES = 40;

export class ServiceFailedError extends Error {
  constructor(
    readonly service: string,
    reason: string,
    readonly tail: string[],
  ) {
    super(`${service} ${reason}${tail.length ? `; its last output:\n${tail.map((l) => `    ${l}`).join('\n')}` : ''}`);
    this.name = 'ServiceFailedError';
  }
}

/**
 * Starts services in order, each after the previous one is ready, and stops them in reverse.
 * Each child runs in its own process group (detached), so stopping it also stops whatever it
 * spawned (npm → node → the app), and the launcher alone decides the order on Ctrl-C.
 */
export class Supervisor {
  private readonly running: Running[] = [];
  private stopping: Promise<void> | undefined;
  /** Called when a service exits while it should be running. */
  onUnexpectedExit: (service: string, code: number | null, tail: string[]) => void = () => undefined;
  /** Called when a 'background' process ends (not when stopAll stopped it). */
  onBackgroundExit: (name: string, code: number | null) => void = () => undefined;

  constructor(private readonly log: LogSink) {}

  async start(spec: ServiceSpec): Promise<void> {
    await spec.prepare?.();
    const running = this.spawn(spec);
    if (spec.kind === 'background') {
      this.running.push(running);
      void running.exited.then((code) => {
        if (!this.stopping) this.onBackgroundExit(spec.name, code);
      });
      return;
    }
    if (spec.kind === 'task') {
      const code = await running.exited;
      if (code !== 0) throw new ServiceFailedError(spec.name, `exited with code ${code}`, running.tail);
      return;
    }
    this.running.push(running);
    await this.waitUntilReady(running);
    void running.exited.then((code) => {
      if (!this.stopping) this.onUnexpectedExit(spec.name, code, running.tail);
    });
  }

  /** Stops every service, last started first: SIGTERM to its process group, SIGKILL after graceMs. */
  stopAll(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      for (const running of [...this.running].reverse()) {
        if (running.child.exitCode !== null || running.child.signalCode !== null) continue;
        this.log(`stopping ${running.spec.name}`);
        this.signal(running, 'SIGTERM');
        const timer = setTimeout(() => {
          this.log(`${running.spec.name} did not stop within ${graceMs / 1000} s; killing it`);
          this.signal(running, 'SIGKILL');
        }, graceMs);
        await running.exited;
        // The leader (often npm or a wrapper script) can exit before the app it started has
        // finished shutting down; wait for the whole group so the next service stops after it.
        await this.groupGone(running);
        clearTimeout(timer);
      }
    })();
    return this.stopping;
  }

  /** Last resort on a second Ctrl-C: SIGKILL every process group at once. */
  killAll(): void {
    for (const running of this.running) this.signal(running, 'SIGKILL');
  }

  private async groupGone(running: Running): Promise<void> {
    const pid = running.child.pid;
    if (pid === undefined) return;
    for (;;) {
      try {
        process.kill(-pid, 0);
      } catch {
        return;
      }
      await sleep(50);
    }
  }

  private spawn(spec: ServiceSpec): Running {
    this.log(`starting ${spec.name}: ${[spec.command, ...spec.args].join(' ')}`);
    const child = spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const forward = (stream: NodeJS.ReadableStream | null): void => {
      if (!stream) return;
      createInterface({ input: stream }).on('line', (line) => {
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        this.log(`[${spec.name}] ${line}`);
      });
    };
    forward(child.stdout);
    forward(child.stderr);
    const exited = new Promise<number | null>((resolve) => {
      child.once('error', (error) => {
        tail.push(`failed to start: ${error.message}`);
        resolve(null);
      });
      child.once('exit', (code) => resolve(code));
    });
    return { spec, child, exited, tail };
  }

  private async waitUntilReady(running: Running): Promise<void> {
    const { spec } = running;
    const deadline = Date.now() + spec.startTimeoutMs;
    let exitCode: number | null | undefined;
    void running.exited.then((code) => (exitCode = code));
    for (let delay = 100; ; delay = Math.min(delay * 2, 1_000)) {
      if (exitCode !== undefined) throw new ServiceFailedError(spec.name, `exited during start-up (code ${exitCode})`, running.tail);
      if (await probe(spec.readiness)) {
        this.log(`${spec.name} is ready`);
        return;
      }
      if (Date.now() > deadline) throw new ServiceFailedError(spec.name, `was not ready within ${spec.startTimeoutMs / 1000} s`, running.tail);
      await sleep(delay);
    }
  }

  private signal(running: Running, signal: NodeJS.Signals): void {
    const pid = running.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  }
}
