/** Anything that turns token ids back into text (peft-core's Tokenizer). */
export interface TokenDecoder {
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

/**
 * The text of a completion as tokens arrive, with stop sequences. Each push returns the text that
 * is now safe to show: text that could still turn into a stop sequence, or an incomplete UTF-8
 * character (U+FFFD at the end), is held back until the next token decides it. When a stop
 * sequence appears the text ends just before it (OpenAI semantics: the stop string is not returned).
 */
export class CompletionText {
  private readonly tokens: number[] = [];
  private emitted = 0;
  private decoded = '';
  private stoppedAt: number | undefined;

  constructor(
    private readonly decoder: TokenDecoder,
    private readonly stop: readonly string[],
  ) {}

  /** Whether a stop sequence ended the text. */
  get stopped(): boolean {
    return this.stoppedAt !== undefined;
  }

  /** Adds a token; returns the newly safe text and whether a stop sequence was reached. */
  push(token: number): { delta: string; stopped: boolean } {
    if (this.stoppedAt !== undefined) return { delta: '', stopped: true };
    this.tokens.push(token);
    this.decoded = this.decoder.decode(this.tokens, { skipSpecialTokens: true });
    const at = this.findStop();
    if (at !== undefined) {
      this.stoppedAt = at;
      return { delta: this.take(at), stopped: true };
    }
    return { delta: this.take(this.decoded.length - this.holdBack()), stopped: false };
  }

  /** Everything not yet emitted (call once generation has ended). */
  flush(): string {
    return this.take(this.stoppedAt ?? this.decoded.length);
  }

  /** The whole text so far (up to the stop sequence, if one was hit). */
  get text(): string {
    return this.decoded.slice(0, this.stoppedAt ?? this.decoded.length);
  }

  private take(end: number): string {
    if (end <= this.emitted) return '';
    const delta = this.decoded.slice(this.emitted, end);
    this.emitted = end;
    return delta;
  }

  private findStop(): number | undefined {
    let best: number | undefined;
    // A new match can only start where at most (stop length − 1) characters were already safe.
    for (const s of this.stop) {
      const from = Math.max(0, this.emitted - s.length + 1);
      const i = this.decoded.indexOf(s, from);
      if (i >= 0 && (best === undefined || i < best)) best = i;
    }
    return best;
  }

  /** Characters at the end that must wait: a partial UTF-8 character, or a prefix of a stop sequence. */
  private holdBack(): number {
    const text = this.decoded;
    let hold = 0;
    while (hold < text.length && text[text.length - 1 - hold] === '\uFFFD') hold++;
    for (const s of this.stop) {
      for (let k = Math.min(s.length - 1, text.length); k > hold; k--) {
        if (text.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return Math.min(hold, text.length - this.emitted);
  }
}
