/** How an integer's allowed range is worded in problems (each service keeps the wording its operators know). */
export type RangeWording = 'between' | 'interval';

export interface EnvReaderOptions {
  /** `between`: "must be an integer between 1 and 10" (default); `interval`: "must be an integer in [1, 10]". */
  readonly rangeWording?: RangeWording;
}

/**
 * Reads a service's environment variables and collects every problem instead of throwing at the
 * first: start-up then fails once, naming every bad variable, so a broken deployment is fixed in
 * one round rather than one variable per restart. Unset and empty variables both mean "use the
 * default" (an empty `FOO=` in a compose file or .env is how operators clear a value).
 */
export class EnvReader {
  private readonly found: string[] = [];
  private readonly rangeWording: RangeWording;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    options: EnvReaderOptions = {},
  ) {
    this.rangeWording = options.rangeWording ?? 'between';
  }

  /** Every problem so far, in the order found. */
  get problems(): readonly string[] {
    return this.found;
  }

  /** The value, or `fallback` when unset or empty. */
  text(name: string, fallback: string): string {
    const value = this.env[name];
    return value === undefined || value === '' ? fallback : value;
  }

  /** The value, or undefined when unset or empty. */
  optionalText(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  /**
   * A non-negative decimal integer in [min, max] (max defaults to the largest safe integer), or
   * `fallback` when unset or empty. Anything else (signs, decimals, exponents, hex, out of range)
   * is a problem naming the variable and the value, and `fallback` is returned so parsing goes on.
   */
  integer(name: string, fallback: number, min: number, max?: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isSafeInteger(value) || value < min || (max !== undefined && value > max)) {
      this.found.push(`${name} must be an integer ${this.range(min, max)}, got ${JSON.stringify(raw)}`);
      return fallback;
    }
    return value;
  }

  /** Like integer(), but undefined when unset or empty. */
  optionalInteger(name: string, min: number, max?: number): number | undefined {
    const raw = this.env[name];
    return raw === undefined || raw === '' ? undefined : this.integer(name, min, min, max);
  }

  /** A comma-separated list, entries trimmed, empty entries dropped; [] when unset. */
  list(name: string): string[] {
    return this.text(name, '')
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry !== '');
  }

  /** Records a problem found by the caller's own checks. */
  problem(message: string): void {
    this.found.push(message);
  }

  /**
   * Runs a parser that throws on bad input (e.g. the object store's blobStoreOptionsFromEnv) and
   * records its error message as a problem; undefined when it threw.
   */
  attempt<T>(parse: () => T): T | undefined {
    try {
      return parse();
    } catch (error) {
      this.found.push(error instanceof Error ? error.message : String(error));
      return undefined;
    }
  }

  /** Throws `toError(problems)` when any problem was found. */
  failIfAny(toError: (problems: string[]) => Error): void {
    if (this.found.length > 0) throw toError([...this.found]);
  }

  private range(min: number, max: number | undefined): string {
    if (max === undefined) return `≥ ${min}`;
    return this.rangeWording === 'interval' ? `in [${min}, ${max}]` : `between ${min} and ${max}`;
  }
}
