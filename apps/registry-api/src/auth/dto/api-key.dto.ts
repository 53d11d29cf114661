import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ApiKey } from '../../generated/prisma/client';
import { ROLES, type Role } from '../roles';

/** An API key as listed: never the secret or its hash. */
export class ApiKeyDto {
  @ApiProperty() id!: string;
  @ApiProperty({ description: 'The non-secret part of the key (plt_<publicId>_...)' }) publicId!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty() createdAt!: string;
  @ApiPropertyOptional({ nullable: true, type: String }) revokedAt!: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) lastUsedAt!: string | null;

  static from(key: ApiKey): ApiKeyDto {
    return {
      id: key.id,
      publicId: key.publicId,
      name: key.name,
      role: key.role,
      createdAt: key.createdAt.toISOString(),
      revokedAt: key.revokedAt?.toISOString() ?? null,
      lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    };
  }
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The full key. Shown only in this response; store it now.' }) key!: string;
}
