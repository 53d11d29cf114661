import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiKeysService } from './api-keys.service';
import type { AuthenticatedKey } from './authenticated-key';
import { CurrentKey, RequireRole } from './decorators';
import { ApiKeyDto, CreatedApiKeyDto } from './dto/api-key.dto';
import { CreateApiKeyInput, parseCreateApiKeyInput } from './dto/create-api-key.input';

@ApiTags('keys')
@RequireRole('admin')
@Controller('api/v1/keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  async create(@Body() body: CreateApiKeyInput, @CurrentKey() actor: AuthenticatedKey): Promise<CreatedApiKeyDto> {
    const { key, plaintext } = await this.keys.create(parseCreateApiKeyInput(body), actor.id);
    return { ...ApiKeyDto.from(key), key: plaintext };
  }

  @Get()
  @ApiOkResponse({ type: [ApiKeyDto] })
  async list(): Promise<ApiKeyDto[]> {
    return (await this.keys.list()).map((key) => ApiKeyDto.from(key));
  }

  @Delete(':id')
  @HttpCode(200)
  @ApiOkResponse({ type: ApiKeyDto })
  async revoke(@Param('id') id: string, @CurrentKey() actor: AuthenticatedKey): Promise<ApiKeyDto> {
    return ApiKeyDto.from(await this.keys.revoke(id, actor.id));
  }
}
