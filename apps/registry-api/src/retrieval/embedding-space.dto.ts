import { Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

@ObjectType('EmbeddingSpace')
export class EmbeddingSpaceDto {
  @ApiProperty({ description: "The retriever's space id (autolora-v1-<digest>)" }) @Field() id!: string;
  @ApiProperty() @Field() baseModel!: string;
  @ApiProperty({ enum: ['building', 'active', 'retired'] }) @Field() status!: 'building' | 'active' | 'retired';
  @ApiPropertyOptional({ description: 'The retriever artifact, name@vN' }) @Field(() => String, { nullable: true }) artifact!: string | null;
  @ApiPropertyOptional() @Field(() => String, { nullable: true }) artifactId!: string | null;
  @ApiPropertyOptional({ description: 'The train-retriever job that produced it' }) @Field(() => String, { nullable: true }) jobId!: string | null;
  @ApiProperty() @Field(() => Int) weightEmbeddings!: number;
  @ApiProperty() @Field(() => Int) textEmbeddings!: number;
  @ApiProperty() @Field() createdAt!: string;
  @ApiPropertyOptional() @Field(() => String, { nullable: true }) activatedAt!: string | null;
  @ApiPropertyOptional() @Field(() => String, { nullable: true }) retiredAt!: string | null;
}
