import type { LoggerService } from '@nestjs/common';
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../../config/app-config';
import { currentRequestId } from './request-context';

/**
 * The service's one logger: JSON lines (pino) on stdout, each carrying the current request's
 * `reqId` when logged while serving a request. Also Nest's LoggerService, so framework messages
 * come out in the same format.
 */
export class AppLogger implements LoggerService {
  readonly pino: Logger;

  constructor(level: LogLevel, destination?: DestinationStream) {
    const options = {
      level,
      base: { service: 'registry-api' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
      mixin: () => {
        const reqId = currentRequestId();
        return reqId === undefined ? {} : { reqId };
      },
    };
    this.pino = destination ? pino(options, destination) : pino(options);
  }

  /** Structured use: `logger.info({ adapterId }, 'adapter created')`. Nest's (message, context) form works too. */
  info(fields: Record<string, unknown>, message: string): void;
  info(message: unknown, ...optionalParams: unknown[]): void;
  info(first: unknown, ...rest: unknown[]): void {
    this.dispatch('info', first, rest);
  }

  warn(fields: Record<string, unknown>, message: string): void;
  warn(message: unknown, ...optionalParams: unknown[]): void;
  warn(first: unknown, ...rest: unknown[]): void {
    this.dispatch('warn', first, rest);
  }

  error(fields: Record<string, unknown>, message: string): void;
  error(message: unknown, ...optionalParams: unknown[]): void;
  error(first: unknown, ...rest: unknown[]): void {
    this.dispatch('error', first, rest);
  }

  // LoggerService (Nest calls these with (message, context?) or (message, stack, context)).
  log(message: unknown, ...optionalParams: unknown[]): void {
    this.nest('info', message, optionalParams);
  }

  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.nest('debug', message, optionalParams);
  }

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.nest('trace', message, optionalParams);
  }

  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.nest('fatal', message, optionalParams);
  }

  private dispatch(level: 'error' | 'warn' | 'info', first: unknown, rest: unknown[]): void {
    if (isFields(first) && typeof rest[0] === 'string') this.pino[level](first, rest[0]);
    else this.nest(level, first, rest);
  }

  private nest(level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace', message: unknown, params: unknown[]): void {
    const context = typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
    const stack = params.length > 1 && typeof params[0] === 'string' ? params[0] : undefined;
    const fields: Record<string, unknown> = {};
    if (context) fields.context = context;
    if (stack) fields.stack = stack;
    if (message instanceof Error) this.pino[level]({ ...fields, err: message }, message.message);
    else if (typeof message === 'string') this.pino[level](fields, message);
    else this.pino[level]({ ...fields, data: message }, 'log');
  }
}

function isFields(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !(value instanceof Error) && !Array.isArray(value);
}
