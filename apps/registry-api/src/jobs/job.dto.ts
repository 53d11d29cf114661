import { Field, Int, ObjectType } from '@nestjs/graphql';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { JsonScalar } from '../catalog/graphql/json.scalar';

@ObjectType('JobMetricPoint')
export class JobMetricPointDto {
  @ApiProperty() @Field(() => Int) step!: number;
  @ApiPropertyOptional() @Field(() => Number, { nullable: true }) loss!: number | null;
  @ApiPropertyOptional() @Field(() => Number, { nullable: true }) evalLoss!: number | null;
  @ApiPropertyOptional() @Field(() => Number, { nullable: true }) learningRate!: number | null;
  @ApiPropertyOptional() @Field(() => Number, { nullable: true }) tokensPerSecond!: number | null;
  @ApiProperty({ description: 'ISO 8601 time of the progress update' }) @Field() at!: string;
}

@ObjectType('Job')
export class JobDto {
  @ApiProperty({ description: 'The BullMQ job id, which is the idempotency key' }) @Field() id!: string;
  @ApiProperty({ example: 'train' }) @Field() kind!: string;
  @ApiProperty({ enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] }) @Field() status!: string;
  @ApiPropertyOptional({ description: 'base model name' }) @Field(() => String, { nullable: true }) baseModel!: string | null;
  @ApiPropertyOptional({ description: 'dataset id' }) @Field(() => String, { nullable: true }) datasetId!: string | null;
  @ApiPropertyOptional({ description: 'dataset sha256' }) @Field(() => String, { nullable: true }) datasetSha256!: string | null;
  @ApiPropertyOptional({ description: 'the adapter a train result is registered as' }) @Field(() => String, { nullable: true }) adapter!: string | null;
  @ApiPropertyOptional({ description: 'the adapter version the job produced as name@vN, once the result is in' }) @Field(() => String, { nullable: true }) adapterVersion!: string | null;
  @ApiPropertyOptional({ type: Object, description: "what the result will register, per kind (train: {adapter, tags, …}; pretrain: {baseModel, …}; evaluate: {worldTask, adapterVersion?, …})" })
  @Field(() => JsonScalar, { nullable: true })
  registration!: unknown;
  @ApiPropertyOptional({ type: Object, description: "what the result registered: {type: 'adapter-version' | 'base-model' | 'evaluation' | 'artifact' | 'none', id?, name?, details?}" })
  @Field(() => JsonScalar, { nullable: true })
  registered!: unknown;
  @ApiPropertyOptional({ description: 'when the result was registered (once per job)' }) @Field(() => Date, { nullable: true }) registeredAt!: Date | null;
  @ApiProperty({ type: Object, description: 'the validated payload as enqueued (every default filled in)' }) @Field(() => JsonScalar) payload!: unknown;
  @ApiProperty({ type: Object, description: 'the latest JobProgress ({} before the first update)' }) @Field(() => JsonScalar) progress!: unknown;
  @ApiPropertyOptional({ type: Object }) @Field(() => JsonScalar, { nullable: true }) result!: unknown;
  @ApiPropertyOptional() @Field(() => String, { nullable: true }) error!: string | null;
  @ApiProperty({ description: 'registry-level attempts: 1 + retries' }) @Field(() => Int) attempts!: number;
  @ApiPropertyOptional() @Field(() => Date, { nullable: true }) cancelRequestedAt!: Date | null;
  @ApiProperty() @Field() createdAt!: Date;
  @ApiProperty() @Field() updatedAt!: Date;
  @ApiPropertyOptional() @Field(() => Date, { nullable: true }) startedAt!: Date | null;
  @ApiPropertyOptional() @Field(() => Date, { nullable: true }) finishedAt!: Date | null;
}

@ObjectType('JobDetail')
export class JobDetailDto extends JobDto {
  @ApiProperty({ type: [JobMetricPointDto] }) @Field(() => [JobMetricPointDto]) metricHistory!: JobMetricPointDto[];
}

@ObjectType('JobPage')
export class JobPageDto {
  @ApiProperty({ type: [JobDto] }) @Field(() => [JobDto]) items!: JobDto[];
  @ApiPropertyOptional({ description: 'pass as `cursor` for the next page' }) @Field(() => String, { nullable: true }) nextCursor!: string | null;
}

@ObjectType('JobLogLine')
export class JobLogLineDto {
  @ApiProperty() @Field() time!: string;
  @ApiProperty({ enum: ['debug', 'info', 'warn', 'error'] }) @Field() level!: string;
  @ApiProperty() @Field() message!: string;
  @ApiPropertyOptional({ type: Object }) @Field(() => JsonScalar, { nullable: true }) fields!: unknown;
}

@ObjectType('JobLogs')
export class JobLogsDto {
  @ApiProperty({ type: [JobLogLineDto] }) @Field(() => [JobLogLineDto]) lines!: JobLogLineDto[];
  @ApiProperty({ description: 'lines stored in total' }) @Field(() => Int) total!: number;
}

export class JobSubmitResultDto {
  @ApiProperty({ type: JobDto }) job!: JobDto;
  @ApiProperty({ description: 'false when the idempotency key named an existing job' }) created!: boolean;
}

export class JobResultRegistrationDto {
  @ApiProperty() jobId!: string;
  @ApiPropertyOptional({ description: 'name@vN of the registered adapter version (train jobs)' }) adapterVersion!: string | null;
  @ApiPropertyOptional() adapterVersionId!: string | null;
  @ApiPropertyOptional({ type: Object, description: 'what was registered: {type, id?, name?, details?}' }) registered!: unknown;
  @ApiProperty({ description: 'false when this job had already registered its result' }) created!: boolean;
}
