import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ROUTER_CONFIG, type RouterConfig } from '../config/router-config';
import { RouterError } from './router-error';

/** With ROUTER_API_KEY set, /v1 routes need it as a Bearer token or x-api-key (probes and /metrics stay open). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly expected: Buffer | undefined;

  constructor(@Inject(ROUTER_CONFIG) config: RouterConfig) {
    this.expected = config.apiKey === undefined ? undefined : Buffer.from(config.apiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined) return true;
    const req = context.switchToHttp().getRequest<IncomingMessage>();
    if (!(req.url ?? '').startsWith('/v1')) return true;
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7) : req.headers['x-api-key'];
    if (typeof given === 'string' && given.length === this.expected.length && timingSafeEqual(Buffer.from(given), this.expected)) return true;
    throw new RouterError('unauthenticated', 'Missing or invalid API key (Authorization: Bearer <key>)');
  }
}
