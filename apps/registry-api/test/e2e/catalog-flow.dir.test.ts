import { catalogFlowSuite } from './catalog-flow';

catalogFlowSuite('directory blob store', { blobStore: 'dir' });
