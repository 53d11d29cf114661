import { artifactsFlowSuite } from './artifacts-flow';

artifactsFlowSuite('directory blob store', { blobStore: 'dir' });
