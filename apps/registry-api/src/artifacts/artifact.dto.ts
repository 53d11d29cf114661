import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { JsonScalar } from '../catalog/graphql/json.scalar';

@ObjectType('ArtifactFile')
export class ArtifactFileDto {
  @ApiProperty({ example: 'router.json' }) @Field() path!: string;
  @ApiProperty() @Field() sha256!: string;
  @ApiProperty() @Field(() => Float) size!: number;
}

@ObjectType('ArtifactBaseModel')
export class ArtifactBaseModelDto {
  @ApiProperty() @Field() id!: string;
  @ApiProperty({ example: 'tiny-llama' }) @Field() name!: string;
}

@ObjectType('ArtifactAdapterVersion')
export class ArtifactAdapterVersionDto {
  @ApiProperty() @Field() id!: string;
  @ApiProperty({ example: 'legal-de' }) @Field() adapter!: string;
  @ApiProperty({ example: 2 }) @Field(() => Int) version!: number;
}

@ObjectType('Artifact')
export class ArtifactDto {
  @ApiProperty() @Field() id!: string;
  @ApiProperty({ enum: ['router', 'retriever', 'discriminator'] }) @Field() kind!: string;
  @ApiProperty({ example: 'math-router' }) @Field() name!: string;
  @ApiProperty({ example: 1 }) @Field(() => Int) version!: number;
  @ApiProperty({ example: 'palette-router' }) @Field() format!: string;
  @ApiPropertyOptional({ type: String, nullable: true }) @Field(() => String, { nullable: true }) description!: string | null;
  @ApiPropertyOptional({ type: ArtifactBaseModelDto, nullable: true })
  @Field(() => ArtifactBaseModelDto, { nullable: true })
  baseModel!: ArtifactBaseModelDto | null;
  @ApiPropertyOptional({ type: ArtifactAdapterVersionDto, nullable: true, description: "A discriminator's companion adapter version" })
  @Field(() => ArtifactAdapterVersionDto, { nullable: true })
  adapterVersion!: ArtifactAdapterVersionDto | null;
  @ApiProperty({ type: Object, description: 'The given metadata plus `manifest`: a summary the registry read from the validated files' })
  @Field(() => JsonScalar)
  metadata!: unknown;
  @ApiProperty({ type: [ArtifactFileDto] }) @Field(() => [ArtifactFileDto]) files!: ArtifactFileDto[];
  @ApiPropertyOptional({ type: String, nullable: true, description: 'The job that produced it' }) @Field(() => String, { nullable: true }) jobId!: string | null;
  @ApiProperty() @Field() createdAt!: Date;
  @ApiPropertyOptional({ type: Date, nullable: true, description: 'Set by a soft delete (only reads by id still return it)' })
  @Field(() => Date, { nullable: true })
  deletedAt!: Date | null;
}

@ObjectType('ArtifactPage')
export class ArtifactPageDto {
  @ApiProperty({ type: [ArtifactDto] }) @Field(() => [ArtifactDto]) items!: ArtifactDto[];
  @ApiPropertyOptional({ type: String, nullable: true, description: 'Pass as ?cursor= for the next page; null on the last page' })
  @Field(() => String, { nullable: true })
  nextCursor!: string | null;
}

