import { artifactsFlowSuite } from './artifacts-flow';

artifactsFlowSuite('S3 blob store', { blobStore: 's3' });
