import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../auth';
import { QueuesHealthDto } from './queue-health.dto';
import { QueueHealthService } from './queue-health.service';

@ApiTags('system')
@Controller('api/v1/system')
export class SystemController {
  constructor(private readonly health: QueueHealthService) {}

  @Get('queues')
  @RequireRole('reader')
  @ApiOperation({ summary: 'Job counts by state and connected workers of every BullMQ queue (200 with redis: unconfigured without REDIS_URL)' })
  @ApiOkResponse({ type: QueuesHealthDto })
  queues(): Promise<QueuesHealthDto> {
    return this.health.read();
  }
}
