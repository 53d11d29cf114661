/**
 * A small argv parser for the palette CLI: positionals plus `--name value` / `--name=value` flags
 * and boolean `--flag`s. Only flags a command declares are accepted, so a typo fails loudly.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface FlagSpec {
  /** Flags that take a value. */
  readonly values: readonly string[];
  /** Flags that are switches. */
  readonly switches?: readonly string[];
}

export class ParsedArgs {
  constructor(
    readonly positionals: readonly string[],
    private readonly flags: ReadonlyMap<string, string>,
    private readonly switches: ReadonlySet<string>,
  ) {}

  has(name: string): boolean {
    return this.flags.has(name) || this.switches.has(name);
  }

  string(name: string): string | undefined {
    return this.flags.get(name);
  }

  required(name: string): string {
    const v = this.flags.get(name);
    if (v === undefined) throw new UsageError(`--${name} is required`);
    return v;
  }

  number(name: string): number | undefined {
    const v = this.flags.get(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
    return n;
  }

  integer(name: string): number | undefined {
    const n = this.number(name);
    if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got ${n}`);
    return n;
  }
}

export function parseArgs(argv: readonly string[], spec: FlagSpec): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (spec.switches?.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      switches.add(name);
    } else if (spec.values.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      const known = [...spec.values, ...(spec.switches ?? [])].map((f) => `--${f}`).join(', ');
      throw new UsageError(`unknown option --${name} (this command takes ${known || 'no options'})`);
    }
  }
  return new ParsedArgs(positionals, flags, switches);
}
