/**
 * Logs of one job: each line goes to the job's BullMQ log (for the console) and to stdout with the
 * job id (for the process log). A failing job.log never fails the job: logs are best effort.
 */
import { encodeLogLine, type JobLogLine, type LogLevel } from '@palette/job-contracts';

export type LogFields = NonNullable<JobLogLine['fields']>;

export interface JobLogger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** Waits until every line has been written to the job log. */
  flush(): Promise<void>;
}

export function createJobLogger(jobId: string, kind: string, writeJobLog: (line: string) => Promise<unknown>, echo: (line: string) => void = (l) => process.stdout.write(l + '\n')): JobLogger {
  let chain: Promise<unknown> = Promise.resolve();
  const write = (level: LogLevel, message: string, fields?: LogFields): void => {
    const line: JobLogLine = { time: new Date().toISOString(), level, message, ...(fields !== undefined ? { fields } : {}) };
    echo(`${line.time} ${level} [${kind} ${jobId}] ${message}${fields !== undefined ? ` ${JSON.stringify(fields)}` : ''}`);
    chain = chain.then(() => writeJobLog(encodeLogLine(line))).catch(() => undefined);
  };
  return {
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    flush: async () => {
      await chain;
    },
  };
}
