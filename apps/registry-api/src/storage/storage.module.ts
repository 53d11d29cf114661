import { Global, Module } from '@nestjs/common';
import { BlobGcController } from './blob-gc.controller';
import { BlobGcService } from './blob-gc.service';
import { BLOB_STORE, blobStoreProvider } from './blob-store.provider';

@Global()
@Module({
  controllers: [BlobGcController],
  providers: [blobStoreProvider, BlobGcService],
  exports: [BLOB_STORE, BlobGcService],
})
export class StorageModule {}
