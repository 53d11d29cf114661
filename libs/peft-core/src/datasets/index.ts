export { readLines, type LineSource, type SourceLine } from './line-reader';
export {
  CHAT_ROLES,
  detectFormat,
  type ChatExample,
  type ChatRole,
  type DatasetChatMessage,
  type DatasetExample,
  type DatasetFormat,
  type PromptCompletionExample,
  type TextExample,
} from './records';
export {
  DEFAULT_MAX_EXAMPLES,
  DEFAULT_MAX_LINE_BYTES,
  iterateJsonlDataset,
  parseJsonlDataset,
  type JsonlParseOptions,
  type ParsedDataset,
} from './jsonl';
export { chatFormatterOf, renderExample, type ChatFormatter, type RenderedExample } from './render';
export {
  assertFitsContext,
  checkContextLength,
  type ContextCheckOptions,
  type ContextCheckReport,
  type TokenEncoder,
} from './context-check';
export { exampleKey, isEvalExample, splitByHash, type HashSplit, type HashSplitOptions } from './split';
export { exampleToRecord, formatJsonl, toJsonlLine, writeJsonl, type DatasetRecord } from './jsonl-writer';
export { hashFraction, hashString32 } from './hash';
