import { writeFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { AppLogger } from '../common/logging/app-logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { ApiKeysService } from './api-keys.service';

export const BOOTSTRAP_KEY_NAME = 'bootstrap-admin';

/**
 * On the first start (no key exists at all, revoked ones included) creates an admin key and
 * shows it exactly once: a log line, a line on stdout, and BOOTSTRAP_KEY_FILE (mode 0600) if set.
 * Later starts never print a key again.
 */
@Injectable()
export class BootstrapKeyService implements OnApplicationBootstrap {
  /** The key created by this process, if it created one (tests read it). */
  createdKey: string | undefined;

  constructor(
    private readonly keys: ApiKeysService,
    private readonly logger: AppLogger,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if ((await this.keys.count()) > 0) return;
    const { key, plaintext } = await this.keys.create({ name: BOOTSTRAP_KEY_NAME, role: 'admin' }, null);
    this.createdKey = plaintext;
    const file = this.config.bootstrapKeyFile;
    if (file) {
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, `${plaintext}\n`, { mode: 0o600 });
    }
    this.logger.warn(
      { keyId: key.id, bootstrapKey: plaintext, ...(file ? { writtenTo: file } : {}) },
      'created the bootstrap admin key; it is shown only this once',
    );
    process.stdout.write(`\nBootstrap admin API key (shown once): ${plaintext}\n\n`);
  }
}
