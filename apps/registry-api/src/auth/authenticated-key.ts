import type { Role } from './roles';

/** The caller, as guards and handlers see it (`@CurrentKey()`). */
export interface AuthenticatedKey {
  id: string;
  name: string;
  role: Role;
}
