import { Field, Float, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { JsonScalar } from '../graphql/json.scalar';

/** The architecture facts shown for a base model (computed at registration, stored as BaseModel.summary). */
@ObjectType('BaseModelSummary')
export class BaseModelSummaryDto {
  @ApiProperty({ example: 'llama' }) @Field() family!: string;
  @ApiProperty() @Field(() => Int) layers!: number;
  @ApiProperty() @Field(() => Int) hiddenSize!: number;
  @ApiProperty() @Field(() => Int) intermediateSize!: number;
  @ApiProperty() @Field(() => Int) heads!: number;
  @ApiProperty() @Field(() => Int) kvHeads!: number;
  @ApiProperty() @Field(() => Int) headDim!: number;
  @ApiProperty() @Field(() => Int) vocabSize!: number;
  @ApiProperty({ description: 'Parameter count, from the stored tensors' }) @Field(() => Float) parameters!: number;
  @ApiProperty({ example: 'BF16' }) @Field() dtype!: string;
  @ApiProperty() @Field() tiedEmbeddings!: boolean;
  @ApiProperty() @Field(() => Int) contextLength!: number;
  @ApiProperty() @Field(() => Int) files!: number;
  @ApiProperty() @Field(() => Float) totalBytes!: number;
}

@ObjectType('BaseModelFile')
export class BaseModelFileDto {
  @ApiProperty({ example: 'model.safetensors' }) @Field() path!: string;
  @ApiProperty() @Field() sha256!: string;
  @ApiProperty() @Field(() => Float) size!: number;
}

@ObjectType('BaseModel')
export class BaseModelDto {
  @ApiProperty() @Field() id!: string;
  @ApiProperty({ example: 'tiny-llama' }) @Field() name!: string;
  @ApiProperty({ example: 'llama' }) @Field() family!: string;
  @ApiProperty({ type: BaseModelSummaryDto }) @Field(() => BaseModelSummaryDto) summary!: BaseModelSummaryDto;
  @ApiProperty({ type: [BaseModelFileDto] }) @Field(() => [BaseModelFileDto]) files!: BaseModelFileDto[];
  @ApiProperty({ description: 'Adapters (not deleted) built on this base' }) @Field(() => Int) adapterCount!: number;
  @ApiProperty({ type: Object, description: 'pretraining (job, initialBase, corpus, steps, finalLoss, tokensPerSecond…) when a pretrain job built it; evaluations[worldTask] = {accuracy, examples, splitSeed, jobId, evaluatedAt} from evaluate jobs without an adapter' })
  @Field(() => JsonScalar, { description: 'pretraining lineage/metrics and per-task evaluations' })
  metrics!: unknown;
  @ApiProperty() @Field() createdAt!: Date;
}

@ObjectType('BaseModelPage')
export class BaseModelPageDto {
  @ApiProperty({ type: [BaseModelDto] }) @Field(() => [BaseModelDto]) items!: BaseModelDto[];
}

export class DeletedDto {
  @ApiProperty() deleted!: boolean;
  @ApiPropertyOptional() name?: string;
}
