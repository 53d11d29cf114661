import { catalogFlowSuite } from './catalog-flow';

// The same flow against a real S3-protocol server (s3rver) started by createTestApp.
catalogFlowSuite('S3 blob store', { blobStore: 's3' });
