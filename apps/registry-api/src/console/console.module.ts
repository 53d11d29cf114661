import { Module } from '@nestjs/common';
import { ConsoleController } from './console.controller';
import { CONSOLE_OPTIONS, loadConsoleOptions } from './console-options';
import { RouterProxyController } from './router-proxy.controller';

/** The admin console's static files at /console and its same-origin gateway to the router. */
@Module({
  controllers: [ConsoleController, RouterProxyController],
  providers: [{ provide: CONSOLE_OPTIONS, useFactory: () => loadConsoleOptions(process.env) }],
})
export class ConsoleModule {}
