export { createTestApp, type LogLine, type TestApp, type TestAppOptions } from './test-app';
