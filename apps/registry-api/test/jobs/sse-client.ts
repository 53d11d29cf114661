/** A minimal server-sent-events reader for tests: collects events until the server ends the stream. */
import { request } from 'node:http';

export interface SseEvent {
  readonly event: string;
  readonly data: unknown;
  /** ms since the stream opened. */
  readonly at: number;
}

export interface SseStream {
  readonly events: SseEvent[];
  /** Resolves with every event once the server closes the stream. */
  readonly done: Promise<SseEvent[]>;
  close(): void;
}

export function openSse(url: string, key: string): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const events: SseEvent[] = [];
    const opened = Date.now();
    const req = request(url, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) {
        reject(new Error(`SSE ${url}: HTTP ${res.statusCode} ${String(res.headers['content-type'])}`));
        res.resume();
        return;
      }
      let buffer = '';
      const done = new Promise<SseEvent[]>((resolveDone, rejectDone) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let sep: number;
          while ((sep = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, sep);
            buffer = buffer.slice(sep + 2);
            let event = 'message';
            let data = '';
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data !== '') events.push({ event, data: JSON.parse(data) as unknown, at: Date.now() - opened });
          }
        });
        res.on('end', () => resolveDone(events));
        res.on('error', rejectDone);
      });
      resolve({ events, done, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}
