import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty } from '@nestjs/swagger';
import type { Dataset } from '../generated/prisma/client';

@ObjectType('Dataset')
export class DatasetDto {
  @ApiProperty() @Field() id!: string;
  @ApiProperty({ description: 'sha256 of the JSONL bytes: the blob address' }) @Field() sha256!: string;
  @ApiProperty() @Field() name!: string;
  @ApiProperty({ enum: ['text', 'prompt-completion', 'chat'] }) @Field() format!: string;
  @ApiProperty() @Field(() => Int) rows!: number;
  @ApiProperty() @Field(() => Float) sizeBytes!: number;
  @ApiProperty({ description: 'Default held-out share for jobs on this dataset' }) @Field(() => Float) evalFraction!: number;
  @ApiProperty({ description: 'Examples on the train side of the hash split' }) @Field(() => Int) trainRows!: number;
  @ApiProperty({ description: 'Examples on the eval side of the hash split' }) @Field(() => Int) evalRows!: number;
  @ApiProperty() @Field() createdAt!: Date;
}

export class DatasetUploadResultDto {
  @ApiProperty({ type: DatasetDto }) dataset!: DatasetDto;
  @ApiProperty({ description: 'false when the same bytes were uploaded before (the existing dataset is returned)' }) created!: boolean;
}

export function toDatasetDto(row: Dataset): DatasetDto {
  return {
    id: row.id,
    sha256: row.sha256,
    name: row.name,
    format: row.format,
    rows: row.rows,
    sizeBytes: Number(row.sizeBytes),
    evalFraction: row.evalFraction,
    trainRows: row.trainRows,
    evalRows: row.evalRows,
    createdAt: row.createdAt,
  };
}
