import { createParamDecorator, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { GqlExecutionContext } from '@nestjs/graphql';
import type { AuthenticatedKey } from './authenticated-key';
import type { Role } from './roles';

export const IS_PUBLIC = 'auth:isPublic';
export const REQUIRED_ROLE = 'auth:requiredRole';

/** The route/resolver needs no API key. */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Minimum role for a controller, handler or resolver (the handler's wins). Without it: 'reader'. */
export const RequireRole = (role: Role) => SetMetadata(REQUIRED_ROLE, role);

/** The request object of either transport, where the guard stores the key. */
export interface AuthCarrier {
  headers: Record<string, string | string[] | undefined>;
  apiKey?: AuthenticatedKey;
}

export function requestOf(context: ExecutionContext): AuthCarrier {
  if (context.getType<string>() === 'graphql') {
    return GqlExecutionContext.create(context).getContext<{ req: AuthCarrier }>().req;
  }
  return context.switchToHttp().getRequest<AuthCarrier>();
}

/**
 * The authenticated caller `{ id, name, role }`. On a @Public() route without a key it is undefined,
 * so type the parameter `AuthenticatedKey | undefined` there.
 */
export const CurrentKey = createParamDecorator((_data: unknown, context: ExecutionContext) => requestOf(context).apiKey);
