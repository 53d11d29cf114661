// `npm run up`: starts the platform on one machine (see infra/up.sh, which installs what is
// missing first) and keeps it running until Ctrl-C.
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { launchContext } from './launch-context';
import { isPortFree } from './readiness';
import { bootstrapKeyFile, platformServices, platformUrls } from './services';
import { Supervisor } from './supervisor';

const root = resolve(__dirname, '..', '..');

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function readAdminKey(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const ctx = launchContext(process.env, root);
  await mkdir(join(ctx.dataDir, 'redis'), { recursive: true });
  const supervisor = new Supervisor(log);

  let exitCode: number | undefined;
  const shutdown = async (code: number): Promise<void> => {
    if (exitCode !== undefined) {
      // A second Ctrl-C while stopping: do not wait any longer.
      log('forcing shutdown');
      supervisor.killAll();
      process.exit(code || 130);
    }
    exitCode = code;
    await supervisor.stopAll();
    log('all services stopped');
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));
  supervisor.onUnexpectedExit = (service, code) => {
    log(`${service} exited unexpectedly (code ${code}); stopping everything`);
    void shutdown(1);
  };

  try {
    for (const spec of platformServices(ctx)) {
      for (const { host, port, variable } of spec.ports ?? []) {
        if (!(await isPortFree(host, port))) {
          throw new Error(`${spec.name} cannot start: ${host}:${port} is in use (another \`npm run up\`?). Stop it, or choose another port with ${variable}=...`);
        }
      }
      await supervisor.start(spec);
    }
  } catch (error) {
    log(`start-up failed: ${(error as Error).message}`);
    await shutdown(1);
    return;
  }

  const keyFile = bootstrapKeyFile(ctx);
  const adminKey = await readAdminKey(keyFile);
  const urls = platformUrls(ctx);
  const width = Math.max(...urls.map((u) => u.label.length));
  log('');
  log('Palette is running.');
  for (const { label, url } of urls) log(`  ${label.padEnd(width)}  ${url}`);
  log(`  ${'Redis'.padEnd(width)}  ${ctx.redis.url}${ctx.redis.managed ? ' (started here)' : ''}`);
  log(`  ${'Data'.padEnd(width)}  ${ctx.dataDir}`);
  log(
    adminKey
      ? `  Admin API key (from ${keyFile}):\n    ${adminKey}`
      : `  No admin key file at ${keyFile}; the registry writes it on its first start with an empty database.`,
  );
  log('Press Ctrl-C to stop.');
}

main().catch((error: unknown) => {
  log(`launcher failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
