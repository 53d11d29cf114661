import type { ApiKeyRole } from '../generated/prisma/enums';

export type Role = ApiKeyRole;
export const ROLES: readonly Role[] = ['reader', 'writer', 'admin', 'service'];

const HUMAN_RANK: Record<Exclude<Role, 'service'>, number> = { reader: 0, writer: 1, admin: 2 };

/**
 * reader < writer < admin. 'service' (workers, router) can do what writer can plus routes that
 * require 'service' (internal API); admin may also call internal routes, for operations.
 */
export function roleSatisfies(actual: Role, required: Role): boolean {
  if (required === 'service') return actual === 'service' || actual === 'admin';
  if (actual === 'service') return required === 'reader' || required === 'writer';
  return HUMAN_RANK[actual] >= HUMAN_RANK[required];
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
