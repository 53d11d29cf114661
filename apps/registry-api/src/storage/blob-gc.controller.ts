import { Controller, HttpCode, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiProperty, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { AuthenticatedKey } from '../auth/authenticated-key';
import { CurrentKey, RequireRole } from '../auth/decorators';
import { domainErrors } from '../common/domain-error';
import { BlobGcService } from './blob-gc.service';

class BlobGcReportDto {
  @ApiProperty({ type: [String] }) deleted!: string[];
  @ApiProperty() kept!: number;
  @ApiProperty() graceMs!: number;
}

@ApiTags('internal')
@RequireRole('admin')
@Controller('api/v1/internal/blobs')
export class BlobGcController {
  constructor(private readonly gc: BlobGcService) {}

  @Post('gc')
  @HttpCode(200)
  @ApiQuery({ name: 'graceMs', required: false, description: 'Override BLOB_GC_GRACE_MS for this run' })
  @ApiOkResponse({ type: BlobGcReportDto })
  async collect(@CurrentKey() actor: AuthenticatedKey, @Query('graceMs') graceMs?: string): Promise<BlobGcReportDto> {
    let grace: number | undefined;
    if (graceMs !== undefined) {
      grace = Number(graceMs);
      if (!/^\d+$/.test(graceMs) || !Number.isSafeInteger(grace)) throw domainErrors.validation('graceMs must be a non-negative integer', { graceMs });
    }
    return this.gc.collect(actor.id, grace === undefined ? {} : { graceMs: grace });
  }
}
