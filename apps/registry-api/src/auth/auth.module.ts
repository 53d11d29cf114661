import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyGuard } from './api-key.guard';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { BootstrapKeyService } from './bootstrap-key.service';
import { MeResolver } from './me.resolver';

@Module({
  controllers: [ApiKeysController],
  providers: [ApiKeysService, BootstrapKeyService, MeResolver, { provide: APP_GUARD, useClass: ApiKeyGuard }],
  exports: [ApiKeysService, BootstrapKeyService],
})
export class AuthModule {}
