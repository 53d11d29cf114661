import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { JsonScalar } from '../graphql/json.scalar';

@ObjectType('AdapterAlias')
export class AdapterAliasDto {
  @ApiProperty({ example: 'prod' }) @Field() name!: string;
  @ApiProperty({ example: 3 }) @Field(() => Int) version!: number;
  @ApiProperty() @Field() versionId!: string;
  @ApiProperty() @Field() updatedAt!: Date;
}

@ObjectType('LineageEdge')
export class LineageEdgeDto {
  @ApiProperty({ enum: ['parent', 'base_model', 'job', 'dataset', 'transferred_from'] }) @Field() kind!: string;
  @ApiPropertyOptional({ description: 'For parent / transferred_from: the parent version as name@vN' })
  @Field(() => String, { nullable: true })
  parentVersion?: string | null;
  @ApiPropertyOptional({ description: 'Base model name, job id or dataset sha256' }) @Field(() => String, { nullable: true }) ref?: string | null;
}

@ObjectType('AdapterVersion')
export class AdapterVersionDto {
  @ApiProperty() @Field() id!: string;
  @ApiProperty({ example: 'legal-de' }) @Field() adapter!: string;
  @ApiProperty({ example: 3 }) @Field(() => Int) version!: number;
  @ApiProperty() @Field(() => Int) rank!: number;
  @ApiProperty({ type: [String] }) @Field(() => [String]) targetModules!: string[];
  @ApiProperty() @Field() configSha256!: string;
  @ApiProperty() @Field() weightsSha256!: string;
  @ApiProperty({ description: 'sha256 over config and weights digests; equal bytes give an equal digest' })
  @Field()
  contentDigest!: string;
  @ApiProperty() @Field(() => Float) sizeBytes!: number;
  @ApiProperty({ description: 'adapter_config.json as uploaded, parsed', type: Object })
  @Field(() => JsonScalar, { description: 'adapter_config.json as uploaded, parsed' })
  config!: unknown;
  @ApiProperty({ type: [String], description: 'Aliases pointing at this version' }) @Field(() => [String]) aliases!: string[];
  @ApiProperty({ type: [LineageEdgeDto] }) @Field(() => [LineageEdgeDto]) lineage!: LineageEdgeDto[];
  @ApiProperty() @Field() hasSketch!: boolean;
  @ApiProperty({ description: 'Training metrics recorded by the job that produced this version (eval loss, accuracy...)', type: Object })
  @Field(() => JsonScalar, { description: 'Training metrics recorded by the job that produced this version' })
  metrics!: unknown;
  @ApiProperty() @Field() createdAt!: Date;
}

@ObjectType('Adapter')
export class AdapterDto {
  @ApiProperty() @Field() id!: string;
  @ApiProperty({ example: 'legal-de' }) @Field() name!: string;
  @ApiProperty({ example: 'tiny-llama' }) @Field() baseModel!: string;
  @ApiProperty() @Field() description!: string;
  @ApiProperty({ type: [String] }) @Field(() => [String]) tags!: string[];
  @ApiProperty({ type: [AdapterAliasDto] }) @Field(() => [AdapterAliasDto]) aliases!: AdapterAliasDto[];
  @ApiPropertyOptional({ description: 'Highest version number' }) @Field(() => Int, { nullable: true }) latestVersion!: number | null;
  @ApiProperty() @Field(() => Int) versionCount!: number;
  @ApiProperty() @Field() createdAt!: Date;
  @ApiProperty() @Field() updatedAt!: Date;
  @ApiPropertyOptional() @Field(() => Date, { nullable: true }) deletedAt!: Date | null;
}

@ObjectType('AdapterPage')
export class AdapterPageDto {
  @ApiProperty({ type: [AdapterDto] }) @Field(() => [AdapterDto]) items!: AdapterDto[];
  @ApiPropertyOptional({ description: 'Pass as ?cursor= for the next page; null on the last page' })
  @Field(() => String, { nullable: true })
  nextCursor!: string | null;
}

@ObjectType('AdapterUploadResult')
export class AdapterUploadResultDto {
  @ApiProperty({ type: AdapterDto }) @Field(() => AdapterDto) adapter!: AdapterDto;
  @ApiProperty({ type: AdapterVersionDto }) @Field(() => AdapterVersionDto) version!: AdapterVersionDto;
  @ApiProperty({ description: 'false when identical bytes were already registered (idempotent re-upload)' })
  @Field()
  created!: boolean;
}

@ObjectType('LineageGraph')
export class LineageDto {
  @ApiProperty() @Field() version!: string;
  @ApiProperty({ type: [LineageEdgeDto] }) @Field(() => [LineageEdgeDto]) edges!: LineageEdgeDto[];
  @ApiProperty({ type: [String], description: 'Versions that name this one as parent, as name@vN' })
  @Field(() => [String])
  children!: string[];
}
