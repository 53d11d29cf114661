import { createApp } from './app.module';
import { AppLogger } from './common/logging/app-logger';
import { ConfigError, loadConfig } from './config/app-config';

/** Entry point: validate the environment once, build the app, listen, and shut down cleanly on signals. */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = new AppLogger(config.logLevel);
  const app = await createApp(config, { logger });
  app.enableShutdownHooks(['SIGINT', 'SIGTERM']);
  await app.listen(config.port, config.host);
  logger.info({ url: `http://${config.host}:${config.port}`, docs: '/api/docs', graphql: '/graphql' }, 'registry-api listening');
}

main().catch((error: unknown) => {
  process.stderr.write(`registry-api failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
