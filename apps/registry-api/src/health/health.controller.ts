import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import type { ServerResponse } from 'node:http';
import type { BlobStore } from '@palette/object-store';
import { Public } from '../auth/decorators';
import { DatabaseService } from '../database/database.service';
import { BLOB_STORE } from '../storage/blob-store.provider';

type CheckResult = { ok: true } | { ok: false; error: string };

@ApiTags('health')
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly db: DatabaseService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
  ) {}

  /** Liveness: the process serves HTTP. Touches nothing else, so a slow database never gets it killed. */
  @Get('healthz')
  @ApiOkResponse({ description: '{ "status": "ok" }' })
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: the database answers and the blob store is reachable and writable. */
  @Get('readyz')
  @ApiOkResponse({ description: 'ready' })
  @ApiServiceUnavailableResponse({ description: 'a dependency is down; checks name it' })
  async readyz(@Res() res: ServerResponse): Promise<void> {
    const [database, blobStore] = await Promise.all([check(() => this.db.ping()), check(() => this.blobs.ping())]);
    const ready = database.ok && blobStore.ok;
    res.statusCode = ready ? 200 : 503;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks: { database, blobStore } }));
  }
}

async function check(probe: () => Promise<void>): Promise<CheckResult> {
  try {
    await probe();
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
