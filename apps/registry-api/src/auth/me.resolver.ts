import { Field, ID, ObjectType, Query, registerEnumType, Resolver } from '@nestjs/graphql';
import { ApiKeyRole } from '../generated/prisma/enums';
import type { AuthenticatedKey } from './authenticated-key';
import { CurrentKey } from './decorators';
import type { Role } from './roles';

registerEnumType(ApiKeyRole, { name: 'ApiKeyRole', description: 'reader < writer < admin; service = writer + internal API' });

@ObjectType('Viewer', { description: 'The API key making the request' })
export class ViewerObject {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => ApiKeyRole) role!: Role;
}

@Resolver(() => ViewerObject)
export class MeResolver {
  @Query(() => ViewerObject, { description: 'Who am I: the calling key name and role' })
  me(@CurrentKey() key: AuthenticatedKey): ViewerObject {
    return { id: key.id, name: key.name, role: key.role };
  }
}
