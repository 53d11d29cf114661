import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { domainErrors } from '../common/domain-error';
import { ApiKeysService } from './api-keys.service';
import { IS_PUBLIC, REQUIRED_ROLE, requestOf } from './decorators';
import { roleSatisfies, type Role } from './roles';

/**
 * Global guard (REST and GraphQL): every handler needs a valid key unless @Public(); the key's
 * role must satisfy @RequireRole (handler over class; default 'reader'). The key is read from
 * `Authorization: Bearer plt_...` or `x-api-key: plt_...`. On @Public() routes a key, when
 * sent, is still checked so @CurrentKey() can see it.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets) === true;
    const request = requestOf(context);
    const presented = presentedKey(request.headers);
    if (presented === undefined) {
      if (isPublic) return true;
      throw domainErrors.unauthenticated('missing API key: send "Authorization: Bearer <key>" or "x-api-key: <key>"');
    }
    const key = await this.keys.authenticate(presented);
    if (!key) {
      if (isPublic) return true;
      throw domainErrors.unauthenticated('invalid or revoked API key');
    }
    request.apiKey = key;
    if (isPublic) return true;
    const required = this.reflector.getAllAndOverride<Role | undefined>(REQUIRED_ROLE, targets) ?? 'reader';
    if (!roleSatisfies(key.role, required)) {
      throw domainErrors.forbidden(`this operation requires the ${required} role; key "${key.name}" has ${key.role}`, {
        required,
        actual: key.role,
      });
    }
    return true;
  }
}

function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const header = headers['x-api-key'];
  return typeof header === 'string' && header.trim() !== '' ? header.trim() : undefined;
}
