import { ApiProperty } from '@nestjs/swagger';

/** POST /api/v1/base-models/import: register a model folder that already sits on the server. */
export class ImportBaseModelInput {
  @ApiProperty({ example: 'tiny-llama', description: 'Catalog name for the model' })
  name!: string;

  @ApiProperty({ example: '/srv/models/tiny-llama', description: 'Absolute folder inside one of MODEL_IMPORT_ROOTS' })
  path!: string;
}
