/**
 * Job log lines. BullMQ stores logs as strings (job.log); each line is the JSON of a JobLogLine so
 * the console can show levels and times, and plain strings from other writers still parse.
 */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface JobLogLine {
  /** ISO 8601. */
  readonly time: string;
  readonly level: LogLevel;
  readonly message: string;
  /** Structured extras (numbers, ids), kept small. */
  readonly fields?: Readonly<Record<string, string | number | boolean | null>>;
}

export function encodeLogLine(line: JobLogLine): string {
  return JSON.stringify(line);
}

/** Parses a stored log string; a string that is not a JobLogLine becomes an info line with no time. */
export function parseLogLine(stored: string): JobLogLine {
  try {
    const value: unknown = JSON.parse(stored);
    if (typeof value === 'object' && value !== null) {
      const rec = value as Record<string, unknown>;
      if (typeof rec.time === 'string' && typeof rec.message === 'string' && typeof rec.level === 'string' && (LOG_LEVELS as readonly string[]).includes(rec.level)) {
        const fields = typeof rec.fields === 'object' && rec.fields !== null ? (rec.fields as JobLogLine['fields']) : undefined;
        return { time: rec.time, level: rec.level as LogLevel, message: rec.message, ...(fields !== undefined ? { fields } : {}) };
      }
    }
  } catch {
    // Not JSON: a plain log line.
  }
  return { time: '', level: 'info', message: stored };
}
