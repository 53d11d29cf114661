// `npm run up`: starts the platform on one machine (see infra/up.sh, which installs what is
// missing first) and keeps it running until Ctrl-C.
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { launchContext } from './launch-context';
import { isPortFree } from './readiness';
import { SeedChoiceError, seedOutcomeLine, seederSpec, seedingPlan, type SeedingPlan } from './seeding';
import { bootstrapKeyFile, platformServices, platformUrls, serviceKeyFile } from './services';
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
  let plan: SeedingPlan;
  try {
    plan = seedingPlan(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof SeedChoiceError)) throw error;
    log(error.message);
    process.exit(2);
  }
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
  log(`  ${'Service key'.padEnd(width)}  ${serviceKeyFile(ctx)} (the worker's and the router's)`);
  log('Press Ctrl-C to stop.');

  const { world, fromDir } = plan;
  if (world === 'skip') {
    log('Evaluation world: not seeded (--world skip / WORLD_SEED=skip).');
    return;
  }
  // In the background: the platform is usable while the world trains; the seeder's lines are
  // prefixed [world-seed] and its jobs show on the console's Jobs page.
  log(
    `Seeding the evaluation world (${world}${fromDir !== undefined ? `, imported from ${fromDir}` : ''}) through the job API; ` +
      `follow it below or at ${platformUrls(ctx).find((u) => u.label === 'Console')?.url ?? ''} (Jobs). Skip with --world skip.`,
  );
  supervisor.onBackgroundExit = (_name, code) => log(seedOutcomeLine(code, world));
  await supervisor.start(seederSpec(ctx, world, serviceKeyFile(ctx), fromDir));
}

main().catch((error: unknown) => {
  log(`launcher failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
