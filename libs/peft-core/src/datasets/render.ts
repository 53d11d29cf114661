/**
 * Turns examples into (prompt, completion) strings for training: the loss covers the
 * completion only. Text examples have an empty prompt. Chat examples are rendered by a
 * ChatFormatter (a tokenizer's chat template); the prompt is the conversation before the
 * final assistant message plus the assistant header, and the completion is whatever the
 * formatter appends for that message (its content and end-of-turn marker).
 */
import { PeftCoreError } from '../errors';
import type { ChatMessage } from '../tokenizer';
import type { DatasetExample } from './records';

export type ChatFormatter = (
  messages: readonly ChatMessage[],
  options: { readonly addGenerationPrompt: boolean },
) => string;

export interface RenderedExample {
  readonly line: number;
  readonly prompt: string;
  readonly completion: string;
}

/** The formatter a Tokenizer provides. */
export function chatFormatterOf(tokenizer: {
  applyChatTemplate(messages: readonly ChatMessage[], options?: { addGenerationPrompt?: boolean }): string;
}): ChatFormatter {
  return (messages, options) => tokenizer.applyChatTemplate(messages, options);
}

export function renderExample(example: DatasetExample, formatChat?: ChatFormatter): RenderedExample {
  switch (example.format) {
    case 'text':
      return { line: example.line, prompt: '', completion: example.text };
    case 'prompt-completion':
      return { line: example.line, prompt: example.prompt, completion: example.completion };
    case 'chat': {
      if (formatChat === undefined) {
        throw new PeftCoreError(
          'INVALID_ARGUMENT',
          `line ${example.line}: chat examples need a ChatFormatter to be rendered`,
        );
      }
      const context = example.messages.slice(0, -1);
      const prompt = formatChat(context, { addGenerationPrompt: true });
      const full = formatChat(example.messages, { addGenerationPrompt: false });
      if (!full.startsWith(prompt)) {
        // A template that renders earlier turns differently once a reply follows cannot be
        // split into prompt and completion by rendering; say so rather than train on garbage.
        throw new PeftCoreError(
          'INVALID_ARGUMENT',
          `line ${example.line}: the chat formatter's rendering of the conversation does not start with its rendering of the prompt`,
        );
      }
      return { line: example.line, prompt, completion: full.slice(prompt.length) };
    }
  }
}
