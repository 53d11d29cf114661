/**
 * The three dataset record formats, and the check that turns one parsed JSON line into a
 * typed example or an error naming the line and the problem.
 *
 *   text:               {"text": "..."}                                   trained on all of it
 *   prompt-completion:  {"prompt": "...", "completion": "..."}            trained on the completion
 *   chat:               {"messages": [{"role": "user", "content": "..."}, ...]}
 *                       trained on the last message, which must be the assistant's
 *
 * Fields that belong to no format (ids, metadata) are ignored; fields of two formats in one
 * record are an error, since the intent is unclear.
 */
import { PeftCoreError } from '../errors';

export type DatasetFormat = 'text' | 'prompt-completion' | 'chat';

export const CHAT_ROLES = ['system', 'user', 'assistant'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export interface DatasetChatMessage {
  readonly role: ChatRole;
  readonly content: string;
}

export interface TextExample {
  readonly format: 'text';
  /** The physical line the example came from (1-based), for error messages. */
  readonly line: number;
  readonly text: string;
}

export interface PromptCompletionExample {
  readonly format: 'prompt-completion';
  readonly line: number;
  readonly prompt: string;
  readonly completion: string;
}

export interface ChatExample {
  readonly format: 'chat';
  readonly line: number;
  readonly messages: readonly DatasetChatMessage[];
}

export type DatasetExample = TextExample | PromptCompletionExample | ChatExample;

/** The fields whose presence identifies each format. */
const FORMAT_FIELDS: Readonly<Record<DatasetFormat, readonly string[]>> = {
  text: ['text'],
  'prompt-completion': ['prompt', 'completion'],
  chat: ['messages'],
};

function fail(line: number, problem: string): never {
  throw new PeftCoreError('DATASET_INVALID', `line ${line}: ${problem}`, { line });
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Parses one non-blank JSONL line into a JSON object. */
export function parseJsonObject(text: string, line: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    fail(line, `invalid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(line, `expected a JSON object, got ${describeType(value)}`);
  }
  return value as Record<string, unknown>;
}

/** The format a record's fields identify. */
export function detectFormat(record: Record<string, unknown>, line: number): DatasetFormat {
  const formats = (Object.keys(FORMAT_FIELDS) as DatasetFormat[]).filter((format) =>
    FORMAT_FIELDS[format].some((field) => field in record),
  );
  if (formats.length === 0) {
    fail(line, 'no "text", "prompt"/"completion" or "messages" field, so the record matches no dataset format');
  }
  if (formats.length > 1) fail(line, `the record mixes fields of the ${formats.join(' and ')} formats`);
  return formats[0];
}

/**
 * Validates a record against `expected` (the format line 1 set) and returns the example.
 */
export function toExample(
  record: Record<string, unknown>,
  line: number,
  expected: DatasetFormat,
  formatSource: string,
): DatasetExample {
  const format = detectFormat(record, line);
  if (format !== expected) fail(line, `mixed formats: this record is ${format} but ${formatSource} is ${expected}`);
  switch (format) {
    case 'text': {
      const text = stringField(record, 'text', line);
      if (text.length === 0) fail(line, '"text" is empty');
      return { format, line, text };
    }
    case 'prompt-completion': {
      const prompt = stringField(record, 'prompt', line);
      const completion = stringField(record, 'completion', line);
      if (completion.length === 0) fail(line, '"completion" is empty');
      return { format, line, prompt, completion };
    }
    case 'chat':
      return { format, line, messages: chatMessages(record.messages, line) };
  }
}

function stringField(record: Record<string, unknown>, field: string, line: number): string {
  if (!(field in record)) fail(line, `missing "${field}"`);
  const value = record[field];
  if (typeof value !== 'string') fail(line, `"${field}" must be a string, got ${describeType(value)}`);
  return value;
}

function chatMessages(value: unknown, line: number): DatasetChatMessage[] {
  if (!Array.isArray(value)) fail(line, `"messages" must be an array, got ${describeType(value)}`);
  if (value.length === 0) fail(line, '"messages" is empty');
  const messages = value.map((entry: unknown, i): DatasetChatMessage => {
    const where = `messages[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      fail(line, `${where} must be an object, got ${describeType(entry)}`);
    const message = entry as Record<string, unknown>;
    if (!('role' in message)) fail(line, `${where}: missing "role"`);
    if (!('content' in message)) fail(line, `${where}: missing "content"`);
    const { role, content } = message;
    if (typeof role !== 'string') fail(line, `${where}.role must be a string, got ${describeType(role)}`);
    if (!isChatRole(role))
      fail(line, `${where}: unknown role ${JSON.stringify(role)} (expected ${CHAT_ROLES.join(', ')})`);
    if (typeof content !== 'string') fail(line, `${where}.content must be a string, got ${describeType(content)}`);
    return { role, content };
  });
  const last = messages[messages.length - 1];
  if (last.role !== 'assistant')
    fail(line, `the last message must be the assistant's (the one trained on), got "${last.role}"`);
  if (last.content.length === 0) fail(line, 'the last (assistant) message is empty');
  return messages;
}

function isChatRole(role: string): role is ChatRole {
  return (CHAT_ROLES as readonly string[]).includes(role);
}
