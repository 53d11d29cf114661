import { createRouterApp } from './app.module';
import { loadRouterConfig, RouterConfigError } from './config/router-config';

/** Entry point: validate the environment once, build the app, listen, shut down cleanly on signals. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadRouterConfig(process.env);
  } catch (error) {
    if (error instanceof RouterConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const app = await createRouterApp(config);
  app.enableShutdownHooks(['SIGINT', 'SIGTERM']);
  await app.listen(config.port, config.host);
  process.stdout.write(`${JSON.stringify({ msg: 'router listening', url: `http://${config.host}:${config.port}`, registry: config.registry.url })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`router failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
