import { ApiProperty } from '@nestjs/swagger';
import { domainErrors } from '../../common/domain-error';
import { isRole, ROLES, type Role } from '../roles';

export class CreateApiKeyInput {
  @ApiProperty({ example: 'trainer-worker-1', maxLength: 100 })
  name!: string;

  @ApiProperty({ enum: ROLES, example: 'writer' })
  role!: Role;
}

/** Validates an untrusted request body into a CreateApiKeyInput, naming every bad field. */
export function parseCreateApiKeyInput(body: unknown): CreateApiKeyInput {
  const problems: string[] = [];
  const record = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  if (typeof record.name !== 'string' || record.name.trim() === '') problems.push('name must be a non-empty string');
  if (!isRole(record.role)) problems.push(`role must be one of ${ROLES.join(', ')}`);
  if (problems.length > 0) throw domainErrors.validation(problems.join('; '), { problems });
  return { name: record.name as string, role: record.role as Role };
}
