import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { domainErrors } from '../common';

/**
 * Settings of the console module, read once from the environment when the module is created.
 * They live here rather than in AppConfig because only this module uses them:
 * - CONSOLE_DIST_DIR: the built console (vite build output); default apps/console/dist.
 * - ROUTER_URL: the router the playground talks to through /api/v1/router; unset = playground off.
 * - ROUTER_API_KEY: sent to the router as a bearer token when it requires one.
 */
export interface ConsoleOptions {
  readonly distDir: string;
  readonly routerUrl: string | undefined;
  readonly routerApiKey: string | undefined;
}

export const CONSOLE_OPTIONS = Symbol('CONSOLE_OPTIONS');

/** apps/console/dist, found from this file in src/ (ts sources) or dist/ (built registry). */
function defaultDistDir(): string {
  const candidates = [path.resolve(__dirname, '../../../console/dist'), path.resolve(__dirname, '../../../../console/dist')];
  return candidates.find((dir) => existsSync(dir)) ?? candidates[0]!;
}

export function loadConsoleOptions(env: NodeJS.ProcessEnv): ConsoleOptions {
  const problems: string[] = [];
  const routerUrl = env.ROUTER_URL === undefined || env.ROUTER_URL === '' ? undefined : env.ROUTER_URL.replace(/\/+$/, '');
  if (routerUrl !== undefined && !/^https?:\/\/[^/]+/.test(routerUrl)) problems.push(`ROUTER_URL must be an http:// or https:// URL, got ${JSON.stringify(env.ROUTER_URL)}`);
  if (problems.length > 0) throw domainErrors.validation(`console settings are invalid: ${problems.join('; ')}`, { problems });
  return {
    distDir: env.CONSOLE_DIST_DIR ? path.resolve(env.CONSOLE_DIST_DIR) : defaultDistDir(),
    routerUrl,
    routerApiKey: env.ROUTER_API_KEY || undefined,
  };
}
