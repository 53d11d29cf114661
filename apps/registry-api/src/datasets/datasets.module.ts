import { Module } from '@nestjs/common';
import { DatasetsController } from './datasets.controller';
import { DatasetsResolver } from './datasets.resolver';
import { DatasetsService } from './datasets.service';

/** JSONL datasets: upload (validated, content-addressed), list, get, download. */
@Module({
  controllers: [DatasetsController],
  providers: [DatasetsService, DatasetsResolver],
  exports: [DatasetsService],
})
export class DatasetsModule {}
