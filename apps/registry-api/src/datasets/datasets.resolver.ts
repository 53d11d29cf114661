import { Args, Int, Query, Resolver } from '@nestjs/graphql';
import { RequireRole } from '../auth';
import { DatasetDto } from './dataset.dto';
import { DatasetsService } from './datasets.service';

/** Datasets over GraphQL (uploads and downloads stay REST: multipart and byte streams). */
@Resolver()
export class DatasetsResolver {
  constructor(private readonly datasetsService: DatasetsService) {}

  @Query(() => [DatasetDto])
  @RequireRole('reader')
  datasets(@Args('limit', { type: () => Int, nullable: true }) limit?: number): Promise<DatasetDto[]> {
    return this.datasetsService.list(limit === undefined || limit === null ? undefined : String(limit));
  }

  @Query(() => DatasetDto)
  @RequireRole('reader')
  dataset(@Args('ref', { description: 'id or sha256' }) ref: string): Promise<DatasetDto> {
    return this.datasetsService.get(ref);
  }
}
