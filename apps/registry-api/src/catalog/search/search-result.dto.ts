import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AdapterDto } from '../adapters/adapter.dto';

@ObjectType('SearchHit')
export class SearchHitDto {
  @ApiProperty({ type: AdapterDto }) @Field(() => AdapterDto) adapter!: AdapterDto;
  @ApiProperty({ description: 'Text search: ts_rank (name matches first). Similarity: cosine similarity in [-1, 1].' })
  @Field(() => Float)
  score!: number;
  @ApiPropertyOptional({ description: 'Similarity search: the matching version' })
  @Field(() => Int, { nullable: true })
  version?: number | null;
}

@ObjectType('SearchResult')
export class SearchResultDto {
  @ApiProperty({ type: [SearchHitDto] }) @Field(() => [SearchHitDto]) items!: SearchHitDto[];
  @ApiPropertyOptional({ description: 'Vector searches: the embedding space searched (every vector compared is from it)' })
  @Field(() => String, { nullable: true })
  space?: string | null;
  @ApiPropertyOptional({ description: "Vector searches: 'hnsw' (iterative index scan), 'exact', or 'exact-fallback' (the index walk came back short)" })
  @Field(() => String, { nullable: true })
  scan?: string | null;
}
