export { EnvReader, type EnvReaderOptions, type RangeWording } from './env-reader';
