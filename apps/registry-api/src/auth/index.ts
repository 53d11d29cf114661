export type { AuthenticatedKey } from './authenticated-key';
export { CurrentKey, Public, RequireRole } from './decorators';
export { roleSatisfies, ROLES, type Role } from './roles';
export { ApiKeysService } from './api-keys.service';
