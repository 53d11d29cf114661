export { Tokenizer, type ChatFormat, type ChatMessage, type DecodeOptions, type EncodeOptions, type TokenizerConfigJson } from './tokenizer';
export { trainByteLevelBpe, DEFAULT_SPECIAL_TOKENS, LLAMA3_PATTERN, type TrainBpeOptions } from './train-bpe';
export { parseTokenizerJson, type TokenizerJson } from './tokenizer-json';
export { BYTE_TO_CHAR, CHAR_TO_BYTE } from './byte-level';
